package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"replfs/ctl"
	"replfs/venti"
)

// scheduleFor returns the schedule of a trickle pair, from the settings
// in force when it starts.
func (e *Engine) scheduleFor(p ctl.Pair) schedule {
	e.mu.Lock()
	set := e.cfg.set
	e.mu.Unlock()
	sec := func(n int) time.Duration { return time.Duration(n) * time.Second }
	return schedule{
		window:     p.Window,
		repeat:     p.Repeat,
		every:      sec(set.repeatSeconds),
		maxRetries: set.maxRetries,
		retry:      sec(set.retrySeconds),
		pause:      sec(set.secondsBetweenMoves),
	}
}

// trickle runs one pair of a trickle line as job j.
func (e *Engine) trickle(ctx context.Context, j *job, p ctl.Pair) error {
	e.mu.Lock()
	ts, err := e.resolve([]string{p.Dst})
	e.mu.Unlock()
	if err != nil {
		return err
	}
	t := ts[0]
	s := e.scheduleFor(p)
	s.retried = t.retried
	var tr transfer
	if p.Src == ctl.FossilSource && !p.Debug && !p.Verify {
		// The nightly round: archive the fossil, then copy what it
		// wrote. The snapshot is not repeated by a retry of the copy.
		snapped := 0 // the run whose snapshot is taken
		tr = func(ctx context.Context, stop <-chan struct{}) error {
			if run := j.runCount(); snapped != run {
				if err := e.snap(ctx, j, ctl.Snap{}); err != nil {
					return err
				}
				snapped = run
			}
			if p.Quick {
				return e.trickleTrees(ctx, j, ctl.Pair{Src: ctl.Local, Dst: p.Dst}, t, hooks{stop: stop, pace: s.pace})
			}
			return e.trickleArenas(ctx, j, t, false, hooks{stop: stop, pace: s.pace})
		}
	} else if p.Src == ctl.FossilSource {
		p.Src = ctl.Local // -D and -V: nothing is snapshotted
		tr = func(ctx context.Context, stop <-chan struct{}) error {
			if !p.Quick && !p.Verify {
				return e.trickleArenas(ctx, j, t, p.Debug, hooks{stop: stop, pace: s.pace})
			}
			return e.trickleTrees(ctx, j, p, t, hooks{stop: stop, pace: s.pace})
		}
	} else if p.Src == ctl.Local && !p.Quick && !p.Verify {
		tr = func(ctx context.Context, stop <-chan struct{}) error {
			return e.trickleArenas(ctx, j, t, p.Debug, hooks{stop: stop, pace: s.pace})
		}
	} else {
		tr = func(ctx context.Context, stop <-chan struct{}) error {
			return e.trickleTrees(ctx, j, p, t, hooks{stop: stop, pace: s.pace})
		}
	}
	return s.run(ctx, j, tr)
}

// trickleArenas copies the source's new arena data to t, as ventiprog.
func (e *Engine) trickleArenas(ctx context.Context, j *job, t *target, dry bool, h hooks) error {
	e.mu.Lock()
	src, err := e.currentSource()
	e.mu.Unlock()
	if err != nil {
		return err
	}
	h.log = e.scores.Bytes() // before the flush: see sendLog
	if !dry {
		fctx, cancel := untilStop(ctx, h.stop)
		err := flush(fctx, src)
		cancel()
		if err != nil {
			if h.stopped() {
				return errWindowClosed
			}
			return err
		}
	}
	parts, err := e.partitions(src)
	if err != nil {
		return err
	}
	return e.copyTo(ctx, j, parts, t, dry, h)
}

// trickleTrees moves trees: the root named (vac:), or every recorded
// root (-Q, or a source that is not ours), from the source to t: copied,
// checked (-V), or counted (-D). Each root is a unit.
func (e *Engine) trickleTrees(ctx context.Context, j *job, p ctl.Pair, t *target, h hooks) error {
	e.mu.Lock()
	var srcAddr string
	var err error
	var roots []venti.Score
	if s, ok := strings.CutPrefix(p.Src, "vac:"); ok {
		var sc venti.Score
		if sc, err = venti.ParseScore(s); err == nil {
			roots = []venti.Score{sc}
		}
		if err == nil {
			srcAddr, err = e.endpoint(ctl.Local)
		}
	} else {
		roots = e.roots()
		srcAddr, err = e.endpoint(p.Src)
	}
	log := e.scores.Bytes() // before the copy: see heldLog
	e.mu.Unlock()
	if err != nil {
		return err
	}
	if len(roots) == 0 {
		j.addResult(t.name + ": no roots recorded")
		return nil
	}
	if t.isBucket() {
		if p.Verify || p.Debug {
			s, err := e.bucketStore(ctx, t)
			if err != nil {
				return err
			}
			defer s.Close()
			tctx, cancel := untilStop(ctx, h.stop)
			defer cancel()
			return e.trickleCheck(tctx, j, p, t, s, roots)
		}
		// An object store keeps arenas: the trees go with them.
		return e.trickleArenas(ctx, j, t, false, h)
	}
	dc, err := t.dial(ctx, h.stop, 0)
	if err != nil {
		return err
	}
	defer t.hangup(dc)
	tctx, cancel := untilStop(ctx, h.stop)
	defer cancel()
	if p.Verify || p.Debug {
		return e.trickleCheck(tctx, j, p, t, dc, roots)
	}
	sc, err := dial(ctx, j, srcAddr)
	if err != nil {
		return err
	}
	defer sc.Close()
	opts := venti.TreeOptions{Fast: true, Known: t.known, Progress: treeProgress(j),
		Throttle: func(n int) { t.limit.wait(n, h.stop) }}
	var total venti.TreeStats
	for _, r := range roots {
		st, err := venti.CopyTree(tctx, sc, dc, r, opts)
		total.Blocks += st.Blocks
		total.Bytes += st.Bytes
		total.Skipped += st.Skipped
		if err != nil {
			// Children go before parents: what was written is whole
			// subtrees. Make it durable and stop there.
			serr := dc.Sync(context.WithoutCancel(ctx))
			if h.stopped() {
				return errors.Join(errWindowClosed, serr)
			}
			return rootErr(r, err)
		}
		if err := dc.Sync(ctx); err != nil {
			return err
		}
		if h.pace != nil {
			h.pace(h.stop)
		}
		if h.stopped() {
			return errWindowClosed
		}
	}
	j.addResult(fmt.Sprintf("%s: roots %d copied %d blocks %d bytes skipped %d", t.name, len(roots), total.Blocks, total.Bytes, total.Skipped))
	e.logAfterCopy(tctx, j, t, dc, log)
	t.end(e.opts.Now(), nil)
	return nil
}

// trickleCheck walks the roots on t: -V reports what is missing or
// corrupt; -D what a copy would move.
func (e *Engine) trickleCheck(ctx context.Context, j *job, p ctl.Pair, t *target, dc venti.BlockReader, roots []venti.Score) error {
	bad := 0
	for _, r := range roots {
		st, err := venti.VerifyTree(ctx, dc, r, venti.TreeOptions{Progress: treeProgress(j),
			Report: func(path string, s venti.Score, ty venti.Type, err error) {
				j.addReport(fmt.Sprintf("vac:%v %s %v/%d: %s", r, path, s, ty, oneLine(err.Error())))
			}})
		if err != nil {
			return rootErr(r, err)
		}
		switch {
		case p.Verify && st.Missing == 0 && st.Corrupt == 0:
			j.addResult(fmt.Sprintf("%s: vac:%v complete %d blocks", t.name, r, st.Blocks))
		case p.Verify && rootMissing(st):
			j.addResult(fmt.Sprintf("%s: vac:%v root missing", t.name, r))
			bad++
		case p.Verify:
			j.addResult(fmt.Sprintf("%s: vac:%v missing %d corrupt %d of %d", t.name, r, st.Missing, st.Corrupt, st.Blocks))
			bad++
		default:
			j.addResult(fmt.Sprintf("%s: vac:%v would copy %d blocks", t.name, r, st.Missing))
		}
	}
	if bad > 0 && !p.Repeat {
		return permanentf("%d of %d roots incomplete on %s", bad, len(roots), t.name)
	}
	return nil
}
