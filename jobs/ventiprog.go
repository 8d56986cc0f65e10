package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"

	"replfs/ctl"
	"replfs/venti"
	"replfs/venti/arena"
)

// currentSource returns the configured source, else the embedded one;
// e.mu is held.
func (e *Engine) currentSource() (*Source, error) {
	if s := e.cfg.source; s != nil {
		return &Source{Addr: s.Addr, HTTP: s.HTTP, Partitions: s.Partitions}, nil
	}
	if e.opts.Embedded != nil {
		return e.opts.Embedded, nil
	}
	return nil, permanentf("no source venti configured")
}

// partitions returns the source's partitions, opened read-only and kept
// open between runs (an idle pass then reads only trailers). It takes
// e.pmu, never e.mu: opening reads the partitions' headers.
func (e *Engine) partitions(src *Source) ([]*arena.Partition, error) {
	e.pmu.Lock()
	defer e.pmu.Unlock()
	key := strings.Join(src.Partitions, "\x00")
	if e.parts != nil && e.partsOf == key {
		return e.parts, nil
	}
	var parts []*arena.Partition
	for _, name := range src.Partitions {
		p, err := arena.OpenPartition(name)
		if err != nil {
			for _, q := range parts {
				q.Close()
			}
			return nil, err
		}
		parts = append(parts, p)
	}
	for _, p := range e.parts {
		p.Close()
	}
	e.parts, e.partsOf = parts, key
	return parts, nil
}

// flush asks the source to write its arena directories to disk.
func flush(ctx context.Context, src *Source) error {
	switch {
	case src.Flush != nil:
		return src.Flush(ctx)
	case src.HTTP != "":
		_, hp, err := venti.ParseDialString(src.HTTP, "http")
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, "GET", "http://"+hp+"/flushdcache", nil)
		if err != nil {
			return err
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("flush source: %w", err)
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
		if r.StatusCode != http.StatusOK {
			return fmt.Errorf("flush source: %s", r.Status)
		}
		return nil
	default:
		c, err := venti.Dial(ctx, src.Addr)
		if err != nil {
			return fmt.Errorf("flush source: %w", err)
		}
		defer c.Close()
		return c.Sync(ctx)
	}
}

// resolve returns the targets a command names (all when none): names
// of configured targets, or dial strings, which get a target of their
// own for the run; e.mu is held.
func (e *Engine) resolve(names []string) ([]*target, error) {
	if len(names) == 0 {
		var ts []*target
		for _, n := range e.targetNames() {
			ts = append(ts, e.targets[n])
		}
		if len(ts) == 0 {
			return nil, permanentf("no targets")
		}
		return ts, nil
	}
	var ts []*target
	for _, n := range names {
		if t, ok := e.targets[n]; ok {
			ts = append(ts, t)
			continue
		}
		if ctl.CheckName(n) == nil {
			return nil, permanentf("no target %s", n)
		}
		t, ok := e.adhoc[n]
		if !ok {
			t = newTarget(e.opts.StateDir, n, n, true)
			e.loadCursor(t)
			e.adhoc[n] = t
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// ventiprog runs the ventiprog command as job j.
func (e *Engine) ventiprog(ctx context.Context, j *job, c ctl.Ventiprog) error {
	e.mu.Lock()
	src, err := e.currentSource()
	var ts []*target
	if err == nil {
		ts, err = e.resolve(c.Targets)
	}
	e.mu.Unlock()
	if err != nil {
		return err
	}
	// The log as it is before the flush names only archives the copy
	// will carry.
	log := e.scores.Bytes()
	if !c.DryRun {
		fctx, fcancel := untilStop(ctx, j.stop)
		err := flush(fctx, src)
		fcancel()
		if err != nil {
			return err
		}
	}
	parts, err := e.partitions(src)
	if err != nil {
		return err
	}
	errs := make([]error, len(ts))
	var wg sync.WaitGroup
	for i, t := range ts {
		wg.Go(func() {
			errs[i] = e.copyTo(ctx, j, parts, t, c.DryRun, hooks{stop: j.stop, log: log})
			if errs[i] != nil {
				errs[i] = fmt.Errorf("%s: %w", t.name, errs[i])
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// hooks are what a trickle adds to a copy: its own stop (the window's
// or the job's) and a pause after each unit moved.
type hooks struct {
	stop <-chan struct{}
	pace func(stop <-chan struct{}) // nil: none
	log  []byte                     // the root score log to leave on the target after (see sendLog)
}

func (h hooks) stopped() bool {
	select {
	case <-h.stop:
		return true
	default:
		return false
	}
}

// copyTo brings one target up to date, holding its run lock, sending no
// faster than the target's rate.
func (e *Engine) copyTo(ctx context.Context, j *job, parts []*arena.Partition, t *target, dry bool, h hooks) error {
	select {
	case t.run <- struct{}{}:
	case <-h.stop:
		return arena.ErrStopped
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	defer func() { <-t.run }()
	if t.isBucket() {
		return e.copyToBucket(ctx, j, parts, t, dry, h)
	}
	cur, err := arena.LoadCursor(t.cursorFile())
	if err != nil {
		return err
	}
	opts := arena.CopyOptions{
		DryRun: dry,
		Stop:   h.stop,
		Logf:   func(f string, a ...any) { e.event("target %s: "+f, append([]any{t.name}, a...)...) },
	}
	if dry {
		_, st, err := arena.CopyArenas(ctx, parts, cur, nil, opts)
		j.addResult(fmt.Sprintf("%s: would send arenas %d clumps %d bytes %d", t.name, st.Arenas, st.Clumps, st.Bytes))
		e.corrupted(j, t, st, false)
		return err
	}
	t.begin(e.opts.Now(), cur)
	var last arena.Progress
	var mu sync.Mutex
	opts.Progress = func(p arena.Progress) {
		t.progress(e.opts.Now(), p)
		mu.Lock()
		j.addProgress(p.Clumps-last.Clumps, p.Bytes-last.Bytes)
		last = p
		mu.Unlock()
	}
	opts.Commit = func(c arena.Cursor) error {
		if err := os.MkdirAll(t.dir, 0700); err != nil {
			return err
		}
		if err := e.writeFile(t.cursorFile(), c.Marshal()); err != nil {
			return err
		}
		t.commit(c)
		if h.pace != nil {
			h.pace(h.stop)
		}
		return nil
	}
	opts.Throttle = func(n int) { t.limit.wait(n, h.stop) }
	var st arena.CopyStats
	conn, err := t.dial(ctx, h.stop, 0)
	if err != nil && h.stopped() {
		err = arena.ErrStopped
	}
	if err == nil {
		var next arena.Cursor
		next, st, err = arena.CopyArenas(ctx, parts, cur, conn, opts)
		if err == nil && !h.stopped() {
			err = e.sendLog(ctx, t, conn, h.log)
		}
		t.hangup(conn)
		cur = next
	}
	name, off := "-", int64(0)
	if _, a := arena.InProgress(parts, cur); a != nil {
		name, off = a.Name, cur[a.Name].Offset
	}
	sum := fmt.Sprintf("arenas %d clumps %d bytes %d", st.Arenas, st.Clumps, st.Bytes)
	if e.endRun(j, t, err, sum, st.Clumps > 0, name, off) {
		e.corrupted(j, t, st, err == nil)
	}
	return err
}

// endRun records how a run to t ended, summed up as sum with the
// arena and offset reached: a result line in j, the target's state, an
// event. A run that failed having sent nothing gets no result line:
// its error says all. It reports whether the run ended, rather than
// stopping on request at a committed point.
func (e *Engine) endRun(j *job, t *target, err error, sum string, sent bool, name string, off int64) bool {
	if err == nil || sent || errors.Is(err, arena.ErrStopped) {
		j.addResult(fmt.Sprintf("%s: %s end %s %#x", t.name, sum, name, off))
	}
	if errors.Is(err, arena.ErrStopped) {
		t.stopped()
		e.event("target %s: stopped at %s %#x", t.name, name, off)
		return false
	}
	t.end(e.opts.Now(), err)
	if err != nil {
		e.event("target %s: %v", t.name, err)
	} else {
		e.event("target %s: %s", t.name, sum)
	}
	return true
}

// maxCorrupt is how many corrupt clumps /status names.
const maxCorrupt = 8

// corrupted tells of the corrupt source clumps a run to t skipped, news
// an administrator must not miss: a warning and a corrupt result line
// in the job, a corrupt line in /status, the event log, and (unless
// the run failed, which says more) the target's last error.
func (e *Engine) corrupted(j *job, t *target, st arena.CopyStats, setErr bool) {
	if st.Corrupt == 0 {
		return
	}
	s := "s"
	if st.Corrupt == 1 {
		s = ""
	}
	msg := fmt.Sprintf("%d clump%s skipped, first %v", st.Corrupt, s, st.FirstCorrupt)
	j.addWarning(fmt.Sprintf("corrupt %s: %s", t.name, msg))
	if setErr {
		t.setError(e.opts.Now(), "source corrupt: "+msg)
	}
	e.event("target %s: source corrupt: %s", t.name, msg)
	first := oneLine(fmt.Sprint(st.FirstCorrupt))
	e.mu.Lock()
	if !slices.Contains(e.corrupt, first) && len(e.corrupt) < maxCorrupt {
		e.corrupt = append(e.corrupt, first)
	}
	e.mu.Unlock()
}

// untilStop returns a context that is also cancelled when stop closes,
// for the steps of a job that are not stopped at a committed point
// (dialing, waiting). The returned func releases it.
func untilStop(ctx context.Context, stop <-chan struct{}) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
		close(done)
	}()
	return ctx, func() { cancel(); <-done }
}
