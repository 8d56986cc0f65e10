package venti

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// A BlockWriter stores blocks: Conn and any Store do.
type BlockWriter interface {
	Write(ctx context.Context, t Type, data []byte) (Score, error)
}

// TreeOptions control CopyTree and VerifyTree. The zero value is ready.
type TreeOptions struct {
	// Window is how many blocks are read and written at once; default 64.
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

// A tree runs one copy or verify: interior blocks (roots, directories,
// pointer blocks) are read in order, one level at a time, while the
// leaves below each are handled Window at a time, so the round trips
// overlap; a parent is written only after every block below it has been
// written and acknowledged.
type tree struct {
	opts    TreeOptions
	src     BlockReader // copy: the source; verify: the target
	dst     BlockWriter // copy only
	probe   BlockReader // what Fast asks
	verify  bool
	seen    *scoreSet
	bad     *scoreSet // verify: blocks reported, so each is named once
	slots   chan struct{} // leaf operations in flight
	ctx     context.Context
	cancel  context.CancelCauseFunc
	mu      sync.Mutex // protects stats
	stats   TreeStats
	failed  atomic.Bool
	writeSc func(ctx context.Context, t Type, data []byte, s Score) error
}

func newTree(ctx context.Context, opts TreeOptions) *tree {
	if opts.Window <= 0 {
		opts.Window = 64
	}
	if opts.Remember <= 0 {
		opts.Remember = 1 << 20
	}
	t := &tree{opts: opts, seen: newScoreSet(opts.Remember), bad: newScoreSet(opts.Remember),
		slots: make(chan struct{}, opts.Window)}
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
	t := newTree(ctx, opts)
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
	err := t.interior(rootRef(score, "vac:"+score.String()))
	if e := t.err(); err == nil && e != nil {
		err = e
	}
	return t.stats, err
}

// VerifyTree checks that r holds the whole tree under the root score,
// reporting each missing or corrupt block (with its path) to
// opts.Report and going on. The error is for a failure to check (a
// broken connection), not for what is missing.
func VerifyTree(ctx context.Context, r BlockReader, score Score, opts TreeOptions) (TreeStats, error) {
	t := newTree(ctx, opts)
	defer t.cancel(nil)
	t.src, t.verify = r, true
	err := t.interior(rootRef(score, "vac:"+score.String()))
	if e := t.err(); err == nil && e != nil {
		err = e
	}
	return t.stats, err
}

// problem records a missing or corrupt block found by verify; anything
// else stops the tree.
func (t *tree) problem(r blockRef, err error) error {
	if !t.verify {
		return fmt.Errorf("%s: %w", r.path, err)
	}
	if t.bad.has(r.score, r.typ) {
		return nil // named already, under its first path
	}
	switch {
	case IsNotFound(err):
		t.count(func(s *TreeStats) { s.Missing++; s.Blocks++ })
	case IsCorrupt(err):
		t.count(func(s *TreeStats) { s.Corrupt++; s.Blocks++ })
	default:
		return fmt.Errorf("%s: %w", r.path, err)
	}
	t.bad.add(r.score, r.typ)
	if t.opts.Report != nil {
		t.opts.Report(r.path, r.score, r.typ, err)
	}
	return nil
}

// interior handles a block that names others: read it, handle its
// children (interior ones in turn, leaves through the slots), then, for
// a copy, write it.
func (t *tree) interior(r blockRef) error {
	if err := t.err(); err != nil {
		return err
	}
	if t.seen.has(r.score, r.typ) || t.bad.has(r.score, r.typ) {
		return nil
	}
	if t.opts.Fast && !t.verify {
		ok, err := Has(t.ctx, t.probe, r.score, r.typ)
		if err != nil {
			return fmt.Errorf("%s: %w", r.path, err)
		}
		if ok {
			t.seen.add(r.score, r.typ)
			t.count(func(s *TreeStats) { s.Skipped++ })
			return nil
		}
	}
	data, err := t.src.Read(t.ctx, r.score, r.typ, r.size())
	if err != nil {
		return t.problem(r, err)
	}
	kids, bad, err := children(r, data)
	if err != nil {
		return t.problem(r, fmt.Errorf("%w: %v", ErrCorrupt, err))
	}
	for _, b := range bad {
		if err := t.problem(blockRef{score: r.score, typ: r.typ, path: b.path}, fmt.Errorf("%w: %v", ErrCorrupt, b.err)); err != nil {
			return err
		}
	}
	// Leaves run at once; what verify finds wrong with them is named
	// afterwards, in order, so the path given is the first in the tree.
	var leaves sync.WaitGroup
	found := make([]error, len(kids))
	for i, c := range kids {
		if !c.leaf() {
			if err := t.interior(c); err != nil {
				leaves.Wait()
				return err
			}
			continue
		}
		// Claim the leaf here, in tree order, so a block named twice is
		// handled once and counts are the same every run. The parent is
		// written only after every leaf it names is done, so a later
		// parent that finds a leaf claimed finds it written.
		if t.seen.has(c.score, c.typ) || t.bad.has(c.score, c.typ) {
			continue
		}
		t.seen.add(c.score, c.typ)
		select {
		case t.slots <- struct{}{}:
		case <-t.ctx.Done():
			leaves.Wait()
			return t.err()
		}
		leaves.Go(func() {
			defer func() { <-t.slots }()
			if err := t.leaf(c); err != nil {
				if t.verify && (IsNotFound(err) || IsCorrupt(err)) {
					found[i] = err
				} else {
					t.fail(err)
				}
			}
		})
	}
	leaves.Wait()
	if err := t.err(); err != nil {
		return err
	}
	for i, err := range found {
		if err != nil {
			if err := t.problem(kids[i], err); err != nil {
				return err
			}
		}
	}
	// Everything below is written: now the block itself.
	if !t.verify {
		if err := t.write(r, data); err != nil {
			return err
		}
	}
	t.seen.add(r.score, r.typ)
	t.count(func(s *TreeStats) { s.Blocks++; s.Bytes += int64(len(data)) })
	return nil
}

// leaf handles a data block: copy it, or check it.
func (t *tree) leaf(r blockRef) error {
	if t.verify && !t.opts.ReadAll {
		ok, err := Has(t.ctx, t.src, r.score, r.typ)
		if err != nil {
			return err
		}
		if !ok {
			return NotFound(r.score, r.typ)
		}
		t.count(func(s *TreeStats) { s.Blocks++ })
		return nil
	}
	if t.opts.Fast && !t.verify {
		ok, err := Has(t.ctx, t.probe, r.score, r.typ)
		if err != nil {
			return fmt.Errorf("%s: %w", r.path, err)
		}
		if ok {
			t.count(func(s *TreeStats) { s.Skipped++ })
			return nil
		}
	}
	data, err := t.src.Read(t.ctx, r.score, r.typ, r.size())
	if err != nil {
		if t.verify {
			return err
		}
		return fmt.Errorf("%s: %w", r.path, err)
	}
	if !t.verify {
		if err := t.write(r, data); err != nil {
			return err
		}
	}
	t.count(func(s *TreeStats) { s.Blocks++; s.Bytes += int64(len(data)) })
	return nil
}

// write stores a block in dst, checking the score it is stored under.
func (t *tree) write(r blockRef, data []byte) error {
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
