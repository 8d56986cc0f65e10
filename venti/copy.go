package venti

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
)

// A BlockWriter stores blocks: Conn and any Store do.
type BlockWriter interface {
	Write(ctx context.Context, t Type, data []byte) (Score, error)
}

// TreeOptions control CopyTree and VerifyTree. The zero value is ready.
type TreeOptions struct {
	// Window is how many blocks are read and written at once. Zero is
	// the far side's own Window if it has one (the destination of a
	// copy, the venti verified: a Pool sizes its own), else 256: a
	// leaf's read and write are one after the other, so it takes more
	// than ventiprog's window to keep a target busy.
	Window int
	// Fast (copy -f) skips every subtree whose top the destination
	// already has. That is safe because CopyTree writes children before
	// parents: a destination that has a block has everything below it,
	// unless it lost blocks since.
	Fast bool
	// ReadAll (verify -r) reads every block and checks its SHA-1; without
	// it VerifyTree reads only blocks that name others and probes the
	// rest with Has.
	ReadAll bool
	// Remember bounds the set of blocks already handled (default 1<<20);
	// a tree sharing blocks with itself or a prev chain is walked once
	// while they fit.
	Remember int
	// Progress, if set, is called as blocks are done.
	Progress func(TreeStats)
	// Known, if set, holds blocks the destination is known to have
	// with all below them, from earlier copies: CopyTree skips them
	// without asking and adds what it copies or finds there.
	Known *KnownSet
	// Throttle, if set, is called with each block's size before
	// CopyTree writes it, and may block to keep a rate.
	Throttle func(n int)
	// Report is called for each block VerifyTree finds missing or
	// corrupt, with its path.
	Report func(path string, s Score, t Type, err error)
}

// TreeStats count a copy or a verification.
type TreeStats struct {
	Blocks  int64 // blocks copied or checked
	Bytes   int64 // their bytes
	Skipped int64 // copy: blocks (tops of subtrees) the destination had
	Missing int64 // verify: blocks absent
	Corrupt int64 // verify: blocks that failed a check
}

// A tree runs one copy or verify. One goroutine walks the tree in
// order, reading the blocks that name others; data blocks are handled
// Window at a time. Each block is a node counting what it waits for:
// its children, and for a copy, once they are all written and
// acknowledged, its own write. A node done tells every node waiting on
// it, so parents are written only after everything below them, without
// holding up the walk.
type tree struct {
	opts    TreeOptions
	src     BlockReader // copy: the source; verify: the target
	dst     BlockWriter // copy only
	probe   BlockReader // what Fast asks
	verify  bool
	writeSc func(ctx context.Context, t Type, data []byte, s Score) error
	ctx     context.Context
	cancel  context.CancelCauseFunc
	win     *Window // operations in flight
	ops     sync.WaitGroup
	failed  atomic.Bool
	seq     int64 // tree order of claims; the walking goroutine's

	mu       sync.Mutex // protects following
	seen     *scoreSet  // blocks done
	inflight map[setKey]*node
	stats    TreeStats
	found    []finding // verify: what is wrong, reported at the end
}

// A node is a block claimed and not yet done.
type node struct {
	ref     blockRef
	seq     int64
	data    []byte        // interior blocks, for the copy's write
	pending atomic.Int32  // children not done, plus one while it is walked
	waiters []*node       // parents to tell; under tree.mu
	done    chan struct{} // closed when done (the root's is waited for)
}

type finding struct {
	seq int64
	ref blockRef
	err error
}

func newTree(ctx context.Context, opts TreeOptions, far any) *tree {
	win := NewWindow(opts.Window, nil)
	if opts.Window <= 0 {
		if w, ok := far.(interface{ Window() *Window }); ok {
			win = w.Window()
		} else {
			win = NewWindow(256, nil)
		}
	}
	if opts.Remember <= 0 {
		opts.Remember = 1 << 20
	}
	t := &tree{opts: opts, seen: newScoreSet(opts.Remember), inflight: map[setKey]*node{}}
	t.win = win
	t.ctx, t.cancel = context.WithCancelCause(ctx)
	return t
}

func (t *tree) count(f func(*TreeStats)) {
	t.mu.Lock()
	f(&t.stats)
	s := t.stats
	t.mu.Unlock()
	if t.opts.Progress != nil {
		t.opts.Progress(s)
	}
}

// fail stops the tree with err.
func (t *tree) fail(err error) {
	if t.failed.CompareAndSwap(false, true) {
		t.cancel(err)
	}
}

func (t *tree) err() error {
	if t.failed.Load() {
		return context.Cause(t.ctx)
	}
	return t.ctx.Err()
}

// CopyTree copies the tree under the root score from src to dst: the
// root, its prev chain, and every block they reach, children before
// parents, Window blocks at a time. It syncs nothing; the caller syncs
// dst when it wants the copy durable.
func CopyTree(ctx context.Context, src BlockReader, dst BlockWriter, score Score, opts TreeOptions) (TreeStats, error) {
	t := newTree(ctx, opts, dst)
	defer t.cancel(nil)
	t.src, t.dst = src, dst
	if r, ok := dst.(BlockReader); ok {
		t.probe = r
	} else if opts.Fast {
		return TreeStats{}, errors.New("copy -f: destination cannot be asked what it has")
	}
	if sw, ok := dst.(interface {
		WriteScore(context.Context, Type, []byte, Score) error
	}); ok {
		t.writeSc = sw.WriteScore
	}
	return t.run(score)
}

// VerifyTree checks that r holds the whole tree under the root score,
// reporting each missing or corrupt block (with the path by which the
// walk first met it) to opts.Report, in tree order, and going on. The
// error is for a failure to check (a broken connection), not for what
// is missing.
func VerifyTree(ctx context.Context, r BlockReader, score Score, opts TreeOptions) (TreeStats, error) {
	t := newTree(ctx, opts, r)
	defer t.cancel(nil)
	t.src, t.verify = r, true
	return t.run(score)
}

func (t *tree) run(score Score) (TreeStats, error) {
	top := &node{done: make(chan struct{})}
	top.pending.Store(1)
	err := t.claim(rootRef(score, "vac:"+score.String()), top)
	t.finish(top) // the walk is over
	if err != nil {
		t.fail(err)
	}
	select {
	case <-top.done:
	case <-t.ctx.Done():
	}
	t.ops.Wait()
	if err := t.err(); err != nil {
		return t.stats, err
	}
	// Name what is wrong, in tree order, each block once.
	sort.Slice(t.found, func(i, j int) bool { return t.found[i].seq < t.found[j].seq })
	named := map[setKey]bool{}
	for _, f := range t.found {
		k := keyFor(f.ref.score, f.ref.typ)
		if named[k] {
			continue
		}
		named[k] = true
		if IsNotFound(f.err) {
			t.stats.Missing++
		} else {
			t.stats.Corrupt++
		}
		t.stats.Blocks++
		if t.opts.Report != nil {
			t.opts.Report(f.ref.path, f.ref.score, f.ref.typ, f.err)
		}
	}
	return t.stats, nil
}

// claim makes r a child of parent: it returns at once if r is done; if
// r is under way, parent waits for it too; otherwise it is started.
// Interior blocks are read and walked here, in order.
func (t *tree) claim(r blockRef, parent *node) error {
	if err := t.err(); err != nil {
		return err
	}
	k := keyFor(r.score, r.typ)
	if !t.verify && t.opts.Known != nil && t.opts.Known.Has(r.score, r.typ) {
		t.count(func(s *TreeStats) { s.Skipped++ })
		return nil
	}
	t.mu.Lock()
	if t.seen.has(r.score, r.typ) {
		t.mu.Unlock()
		return nil
	}
	parent.pending.Add(1)
	if n, ok := t.inflight[k]; ok {
		n.waiters = append(n.waiters, parent)
		t.mu.Unlock()
		return nil
	}
	t.seq++
	n := &node{ref: r, seq: t.seq, waiters: []*node{parent}}
	n.pending.Store(1)
	t.inflight[k] = n
	t.mu.Unlock()
	if r.leaf() {
		return t.start(func() error { return t.leaf(n) })
	}
	return t.interior(n)
}

// slot is what an operation counts for in the window: a block of the
// largest size it may be.
const slot = 8192

// start runs op in the window.
func (t *tree) start(op func() error) error {
	if err := t.win.Acquire(t.ctx, slot); err != nil {
		return t.err()
	}
	t.ops.Go(func() {
		err := op()
		t.win.Release(slot, slot, err)
		if err != nil {
			t.fail(err)
		}
	})
	return nil
}

// wrong records what verify found wrong with n, or stops a copy.
func (t *tree) wrong(n *node, err error) error {
	if !t.verify || !(IsNotFound(err) || IsCorrupt(err)) {
		return fmt.Errorf("%s: %w", n.ref.path, err)
	}
	t.mu.Lock()
	t.found = append(t.found, finding{n.seq, n.ref, err})
	t.mu.Unlock()
	t.finish(n) // nothing below it can be checked
	return nil
}

// present, for copy -f, asks the destination for n; if it is there,
// n and all below it are skipped.
func (t *tree) present(n *node) (bool, error) {
	if !t.opts.Fast || t.verify {
		return false, nil
	}
	r := n.ref
	ok, err := Has(t.ctx, t.probe, r.score, r.typ)
	if err != nil {
		return false, fmt.Errorf("%s: %w", r.path, err)
	}
	if ok {
		t.count(func(s *TreeStats) { s.Skipped++ })
		t.finish(n)
	}
	return ok, nil
}

// interior reads n, claims its children, and lets n finish once they
// have.
func (t *tree) interior(n *node) error {
	r := n.ref
	if skip, err := t.present(n); skip || err != nil {
		return err
	}
	data, err := t.src.Read(t.ctx, r.score, r.typ, r.size())
	if err != nil {
		return t.wrong(n, err)
	}
	kids, bad, err := children(r, data)
	if err != nil {
		return t.wrong(n, fmt.Errorf("%w: %v", ErrCorrupt, err))
	}
	for _, b := range bad {
		t.mu.Lock()
		t.seq++
		t.found = append(t.found, finding{t.seq, blockRef{score: r.score, typ: r.typ, path: b.path}, fmt.Errorf("%w: %v", ErrCorrupt, b.err)})
		t.mu.Unlock()
	}
	n.data = data
	for _, c := range kids {
		if err := t.claim(c, n); err != nil {
			return err
		}
	}
	t.finish(n) // walked: now it waits only for its children
	return nil
}

// leaf handles a data block: copy it, or check it.
func (t *tree) leaf(n *node) error {
	r := n.ref
	if t.verify && !t.opts.ReadAll {
		ok, err := Has(t.ctx, t.src, r.score, r.typ)
		if err == nil && !ok {
			err = NotFound(r.score, r.typ)
		}
		if err != nil {
			return t.wrong(n, err)
		}
		t.count(func(s *TreeStats) { s.Blocks++ })
		t.finish(n)
		return nil
	}
	if skip, err := t.present(n); skip || err != nil {
		return err
	}
	data, err := t.src.Read(t.ctx, r.score, r.typ, r.size())
	if err != nil {
		return t.wrong(n, err)
	}
	if !t.verify {
		if err := t.write(r, data); err != nil {
			return err
		}
	}
	t.count(func(s *TreeStats) { s.Blocks++; s.Bytes += int64(len(data)) })
	t.finish(n)
	return nil
}

// finish drops one of what n waits for. When nothing is left, an
// interior block of a copy is written (in a slot); then n is done and
// tells its waiters.
func (t *tree) finish(n *node) {
	if n.pending.Add(-1) != 0 {
		return
	}
	if n.ref.score == (Score{}) { // the top
		close(n.done)
		return
	}
	if n.data != nil {
		// Written from a goroutine of its own: finish may run in an
		// operation that holds the last slot.
		data := n.data
		n.data = nil
		t.ops.Go(func() {
			if t.win.Acquire(t.ctx, slot) != nil {
				return
			}
			var err error
			defer func() { t.win.Release(slot, slot, err) }()
			if !t.verify {
				if err = t.write(n.ref, data); err != nil {
					t.fail(err)
					return
				}
			}
			t.count(func(s *TreeStats) { s.Blocks++; s.Bytes += int64(len(data)) })
			t.done(n)
		})
		return
	}
	t.done(n)
}

// done marks n done and finishes its waiters.
func (t *tree) done(n *node) {
	t.mu.Lock()
	delete(t.inflight, keyFor(n.ref.score, n.ref.typ))
	t.seen.add(n.ref.score, n.ref.typ)
	if !t.verify && t.opts.Known != nil {
		t.opts.Known.Add(n.ref.score, n.ref.typ)
	}
	waiters := n.waiters
	n.waiters = nil
	t.mu.Unlock()
	for _, w := range waiters {
		t.finish(w)
	}
}

// write stores a block in dst, checking the score it is stored under.
func (t *tree) write(r blockRef, data []byte) error {
	if t.opts.Throttle != nil {
		t.opts.Throttle(len(data))
	}
	var err error
	if t.writeSc != nil {
		err = t.writeSc(t.ctx, r.typ, data, r.score)
	} else {
		var s Score
		if s, err = t.dst.Write(t.ctx, r.typ, data); err == nil && s != r.score {
			err = fmt.Errorf("%w: wrote %v, stored as %v", ErrCorrupt, r.score, s)
		}
	}
	if err != nil {
		return fmt.Errorf("%s: write: %w", r.path, err)
	}
	return nil
}
