package venti

import (
	"context"
	"fmt"
	"strconv"
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
	if t == RootType {
		return w.block(ctx, score, RootType, Entry{}, 0, top)
	}
	return fmt.Errorf("walk %s: start from a root", top)
}

// WalkEntry visits the stream e describes, as Walk does.
func WalkEntry(ctx context.Context, r BlockReader, e Entry, top string, fn func(*TreeBlock) error) error {
	w := &walker{r: r, fn: fn}
	return w.block(ctx, e.Score, e.Type, e, 0, top)
}

type walker struct {
	r  BlockReader
	fn func(*TreeBlock) error
}

// block walks the block score of type t. e is the stream it belongs to
// (sizes and base type); first is the number of its first data block.
func (w *walker) block(ctx context.Context, score Score, t Type, e Entry, first int64, path string) error {
	if score.IsZero() {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	size := RootSize
	switch {
	case t == RootType:
	case t.Depth() > 0:
		size = e.Psize
	default:
		size = e.Dsize
	}
	tb := &TreeBlock{Score: score, Type: t, Path: path}
	data, err := w.r.Read(ctx, score, t, size)
	if err != nil {
		tb.Err = err
		return w.fn(tb)
	}
	tb.Data = data
	switch {
	case t == RootType:
		root, err := UnpackRoot(data)
		if err != nil {
			tb.Err = err
			break
		}
		if err := w.block(ctx, root.Prev, RootType, Entry{}, 0, path+"/prev"); err != nil {
			return err
		}
		dir := Entry{Type: DirType, Dsize: root.BlockSize, Psize: root.BlockSize / EntrySize * EntrySize}
		err = w.block(ctx, root.Score, DirType, dir, 0, path)
		if err != nil {
			return err
		}
	case t.Depth() > 0:
		// Pointer block: each child covers np^(depth-1) data blocks.
		per := int64(1)
		for range t.Depth() - 1 {
			per *= int64(e.Psize / ScoreSize)
		}
		for i := 0; (i+1)*ScoreSize <= len(data); i++ {
			child := Score(data[i*ScoreSize:])
			cfirst := first + int64(i)*per
			cpath := path + "/b" + strconv.FormatInt(cfirst, 10)
			if t.Depth() > 1 {
				cpath = path + "/p" + strconv.Itoa(t.Depth()-1) + "." + strconv.FormatInt(cfirst/per, 10)
			}
			if err := w.block(ctx, child, t-1, e, cfirst, cpath); err != nil {
				return err
			}
		}
	case t == DirType:
		// A block of entries; the last may be short (zero truncation).
		base := first * int64(e.Dsize/EntrySize)
		for i := 0; i*EntrySize < len(data); i++ {
			var eb [EntrySize]byte
			copy(eb[:], data[i*EntrySize:])
			ce, err := UnpackEntry(eb[:])
			cpath := path + "/e" + strconv.FormatInt(base+int64(i), 10)
			if err != nil {
				if err := w.fn(&TreeBlock{Score: score, Type: t, Path: cpath, Err: err}); err != nil {
					return err
				}
				continue
			}
			if !ce.Active() {
				continue
			}
			if err := w.block(ctx, ce.Score, ce.Type, ce, 0, cpath); err != nil {
				return err
			}
		}
	}
	return w.fn(tb)
}
