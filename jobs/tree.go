package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"replfs/ctl"
	"replfs/venti"
	"replfs/venti/bucket"
)

// endpoint resolves a venti named in a command: "local" (the source), a
// target name, or a dial string; e.mu is held.
func (e *Engine) endpoint(name string) (string, error) {
	if name == ctl.Local {
		src, err := e.currentSource()
		if err != nil {
			return "", err
		}
		return src.Addr, nil
	}
	if t, ok := e.targets[name]; ok {
		return t.addr, nil
	}
	if ctl.CheckName(name) == nil {
		return "", fmt.Errorf("no target %s", name)
	}
	return name, nil
}

// targetFor returns the target named, or for a venti that is not one,
// an ad-hoc target of its own; e.mu is held.
func (e *Engine) targetFor(name, addr string) *target {
	if t, ok := e.targets[name]; ok {
		return t
	}
	return newTarget(e.opts.StateDir, addr, addr, true)
}

// roots returns the distinct roots of the root score log, oldest first.
func (e *Engine) roots() []venti.Score {
	seen := map[venti.Score]bool{}
	var out []venti.Score
	for _, r := range e.scores.Records() {
		if !seen[r.Score] {
			seen[r.Score] = true
			out = append(out, r.Score)
		}
	}
	return out
}

// dial dials a venti, giving up early if the job is asked to stop.
func dial(ctx context.Context, j *job, addr string) (*venti.Conn, error) {
	dctx, cancel := untilStop(ctx, j.stop)
	defer cancel()
	return venti.Dial(dctx, addr)
}

// treeProgress returns a Progress func adding to the job's counts.
func treeProgress(j *job) func(venti.TreeStats) {
	var mu sync.Mutex
	var last venti.TreeStats
	return func(s venti.TreeStats) {
		mu.Lock()
		db, dn := s.Blocks-last.Blocks, s.Bytes-last.Bytes
		last = s
		mu.Unlock()
		j.addBlocks(db, dn)
	}
}

// copyTrees runs the copy command.
func (e *Engine) copyTrees(ctx context.Context, j *job, c ctl.Copy) error {
	e.mu.Lock()
	src, err1 := e.endpoint(c.Src)
	dst, err2 := e.endpoint(c.Dst)
	t := e.targets[c.Dst]
	log := e.scores.Bytes() // before the copy: see heldLog
	e.mu.Unlock()
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	if bucket.IsURL(dst) {
		return e.copyToBucketTrees(ctx, j, c, t, dst, log)
	}
	sc, err := dial(ctx, j, src)
	if err != nil {
		return err
	}
	defer sc.Close()
	if t == nil {
		t = newTarget(e.opts.StateDir, dst, dst, true)
	}
	dc, err := t.dial(ctx, j.stop, c.Window)
	if err != nil {
		return err
	}
	defer t.hangup(dc)
	tctx, cancel := untilStop(ctx, j.stop)
	defer cancel()
	// The target's rate holds for every job that sends to it.
	opts := venti.TreeOptions{Window: c.Window, Fast: c.Fast, Progress: treeProgress(j),
		Throttle: func(n int) { t.limit.wait(n, j.stop) }}
	for _, s := range c.Scores {
		st, err := venti.CopyTree(tctx, sc, dc, s, opts)
		if err != nil {
			// What was written is a consistent prefix: sync it.
			dc.Sync(ctx)
			return rootErr(s, err)
		}
		j.addResult(fmt.Sprintf("vac:%v copied %d blocks %d bytes skipped %d", s, st.Blocks, st.Bytes, st.Skipped))
	}
	if err := dc.Sync(ctx); err != nil {
		return err
	}
	if !t.adhoc {
		select {
		case t.run <- struct{}{}:
			defer func() { <-t.run }()
		case <-tctx.Done():
			return nil
		}
	}
	e.logAfterCopy(tctx, j, t, dc, log)
	return nil
}

// verifyTrees runs the verify command.
func (e *Engine) verifyTrees(ctx context.Context, j *job, c ctl.Verify) error {
	e.mu.Lock()
	addr, err := e.endpoint(c.Target)
	t := e.targetFor(c.Target, addr)
	scores := c.Scores
	if len(scores) == 0 {
		scores = e.roots()
	}
	e.mu.Unlock()
	if err != nil {
		return err
	}
	if len(scores) == 0 {
		return errors.New("verify: no scores and no roots recorded")
	}
	var conn venti.BlockReader
	if t.isBucket() {
		s, err := e.bucketStore(ctx, t)
		if err != nil {
			return err
		}
		defer s.Close()
		conn = s
	} else {
		p, err := t.dial(ctx, j.stop, 0)
		if err != nil {
			return err
		}
		defer t.hangup(p)
		conn = p
	}
	if c.ReadAll {
		j.addInfo("probe read every block, SHA-1 checked")
	} else {
		j.addInfo("probe read count 0 for data blocks; others read")
	}
	tctx, cancel := untilStop(ctx, j.stop)
	defer cancel()
	bad := 0
	for _, s := range scores {
		opts := venti.TreeOptions{ReadAll: c.ReadAll, Progress: treeProgress(j),
			Report: func(path string, bs venti.Score, t venti.Type, err error) {
				what := "missing"
				if !venti.IsNotFound(err) {
					what = "corrupt"
				}
				j.addReport(fmt.Sprintf("%s %s %v/%d: %s", path, what, bs, t, oneLine(err.Error())))
			}}
		st, err := venti.VerifyTree(tctx, conn, s, opts)
		if err != nil {
			return rootErr(s, err)
		}
		var line string
		switch {
		case st.Missing == 0 && st.Corrupt == 0:
			line = fmt.Sprintf("vac:%v complete %d blocks", s, st.Blocks)
		case rootMissing(st):
			line = fmt.Sprintf("vac:%v root missing", s)
		case st.Corrupt == 0:
			line = fmt.Sprintf("vac:%v missing %d of %d", s, st.Missing, st.Blocks)
		default:
			line = fmt.Sprintf("vac:%v missing %d corrupt %d of %d", s, st.Missing, st.Corrupt, st.Blocks)
		}
		if st.Missing > 0 || st.Corrupt > 0 {
			bad++
		}
		j.addResult(line)
		j.addReport(line)
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d roots incomplete", bad, len(scores))
	}
	return nil
}

// quick is ventiprog -q: copy to each target only the trees of the
// recorded roots, skipping what it has (copy -f).
func (e *Engine) quick(ctx context.Context, j *job, c ctl.Ventiprog) error {
	e.mu.Lock()
	src, err := e.currentSource()
	var ts []*target
	if err == nil {
		ts, err = e.resolve(c.Targets)
	}
	roots := e.roots()
	log := e.scores.Bytes() // what roots came from
	e.mu.Unlock()
	if err != nil {
		return err
	}
	sc, err := dial(ctx, j, src.Addr)
	if err != nil {
		return err
	}
	defer sc.Close()
	errs := make([]error, len(ts))
	var wg sync.WaitGroup
	for i, t := range ts {
		wg.Go(func() {
			if t.isBucket() {
				// An object store keeps arenas: the trees go with them.
				errs[i] = e.trickleArenas(ctx, j, t, c.DryRun, hooks{stop: j.stop})
			} else {
				errs[i] = e.quickTo(ctx, j, sc, t, roots, log, c.DryRun)
			}
			if errs[i] != nil {
				errs[i] = fmt.Errorf("%s: %w", t.name, errs[i])
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (e *Engine) quickTo(ctx context.Context, j *job, src *venti.Conn, t *target, roots []venti.Score, log []byte, dry bool) error {
	dc, err := t.dial(ctx, j.stop, 0)
	if err != nil {
		t.end(e.opts.Now(), err)
		return err
	}
	defer t.hangup(dc)
	tctx, cancel := untilStop(ctx, j.stop)
	defer cancel()
	var total venti.TreeStats
	for _, r := range roots {
		var st venti.TreeStats
		if dry {
			// What is missing is what would move.
			st, err = venti.VerifyTree(tctx, dc, r, venti.TreeOptions{})
			st.Blocks = st.Missing
		} else {
			st, err = venti.CopyTree(tctx, src, dc, r, venti.TreeOptions{Fast: true, Progress: treeProgress(j),
				Throttle: func(n int) { t.limit.wait(n, j.stop) }})
		}
		if err != nil {
			break
		}
		total.Blocks += st.Blocks
		total.Bytes += st.Bytes
		total.Skipped += st.Skipped
	}
	if err == nil && !dry {
		err = dc.Sync(ctx)
	}
	if err == nil && !dry {
		// Every root of log was copied whole and synced.
		err = e.sendLog(tctx, t, dc, log)
	}
	verb := "copied"
	if dry {
		verb = "would copy"
	}
	j.addResult(fmt.Sprintf("%s: roots %d %s %d blocks %d bytes skipped %d", t.name, len(roots), verb, total.Blocks, total.Bytes, total.Skipped))
	if !dry {
		t.end(e.opts.Now(), err)
	}
	return err
}

// copyToBucketTrees is copy to an object store, which keeps arenas, not
// blocks: the source's arenas are brought up to date there, and then
// each tree is checked whole in the copy.
func (e *Engine) copyToBucketTrees(ctx context.Context, j *job, c ctl.Copy, t *target, dst string, log []byte) error {
	if c.Src != ctl.Local {
		return permanentf("%s is an object store: it takes the source's arenas, so copy only from local", dst)
	}
	if t == nil {
		e.mu.Lock()
		t = e.targetFor(dst, dst)
		e.mu.Unlock()
	}
	h := hooks{stop: j.stop, log: log}
	if err := e.trickleArenas(ctx, j, t, false, h); err != nil {
		return err
	}
	s, err := e.bucketStore(ctx, t)
	if err != nil {
		return err
	}
	defer s.Close()
	tctx, cancel := untilStop(ctx, j.stop)
	defer cancel()
	for _, sc := range c.Scores {
		st, err := venti.VerifyTree(tctx, s, sc, venti.TreeOptions{Progress: treeProgress(j)})
		if err != nil {
			return rootErr(sc, err)
		}
		if st.Missing > 0 || st.Corrupt > 0 {
			return permanentf("vac:%v: missing %d corrupt %d of %d in %s after its arenas were sent", sc, st.Missing, st.Corrupt, st.Blocks, dst)
		}
		j.addResult(fmt.Sprintf("vac:%v copied with its arenas: complete %d blocks", sc, st.Blocks))
	}
	return nil
}

// rootMissing reports whether a walk found not even the root.
func rootMissing(st venti.TreeStats) bool {
	return st.Blocks == 1 && st.Missing == 1 && st.Corrupt == 0
}

// rootErr names the root a tree walk failed in, unless the walk's
// error, whose path starts at the root, already does.
func rootErr(s venti.Score, err error) error {
	if strings.HasPrefix(err.Error(), "vac:"+s.String()) {
		return err
	}
	return fmt.Errorf("vac:%v: %w", s, err)
}
