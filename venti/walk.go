package venti

import (
	"context"
	"fmt"
)

// A TreeBlock is one block of a tree as Walk visits it.
type TreeBlock struct {
	Score Score
	Type  Type
	Data  []byte // as stored (zero truncated); nil when Err is set
	// Path says how the block was reached: the top, then "prev" for a
	// previous root, "e<i>" for entry i of a directory, "b<n>" for data
	// block n of a stream, "p<level>.<n>" for its pointer blocks.
	Path string
	// Err is set when the block could not be read or decoded; Walk does
	// not descend below it.
	Err error
}

// Walk visits the tree under score, whose top block has type t (a root,
// or the top of an entry's stream), as plan9port's venti/copy walks it:
// a root's prev chain and directory, every active entry of a directory
// block (a short last entry padded), every non-zero score of a pointer
// block. Types come from the roots and entries, never guessed. fn sees
// each block after the blocks below it (children before parents), and
// a block that fails with Err set; an error from fn stops the walk.
// top names the tree in paths.
func Walk(ctx context.Context, r BlockReader, score Score, t Type, top string, fn func(*TreeBlock) error) error {
	w := &walker{r: r, fn: fn}
	if t != RootType {
		return fmt.Errorf("walk %s: start from a root", top)
	}
	if score.IsZero() {
		return nil
	}
	return w.block(ctx, rootRef(score, top))
}

// WalkEntry visits the stream e describes, as Walk does.
func WalkEntry(ctx context.Context, r BlockReader, e Entry, top string, fn func(*TreeBlock) error) error {
	if e.Score.IsZero() {
		return nil
	}
	w := &walker{r: r, fn: fn}
	return w.block(ctx, blockRef{score: e.Score, typ: e.Type, e: e, path: top})
}

type walker struct {
	r  BlockReader
	fn func(*TreeBlock) error
}

// block walks the block r and what is below it.
func (w *walker) block(ctx context.Context, r blockRef) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tb := &TreeBlock{Score: r.score, Type: r.typ, Path: r.path}
	data, err := w.r.Read(ctx, r.score, r.typ, r.size())
	if err != nil {
		tb.Err = err
		return w.fn(tb)
	}
	tb.Data = data
	kids, bad, err := children(r, data)
	if err != nil {
		tb.Err = err
		return w.fn(tb)
	}
	for _, b := range bad {
		if err := w.fn(&TreeBlock{Score: r.score, Type: r.typ, Path: b.path, Err: b.err}); err != nil {
			return err
		}
	}
	for _, c := range kids {
		if err := w.block(ctx, c); err != nil {
			return err
		}
	}
	return w.fn(tb)
}
