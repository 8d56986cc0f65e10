package venti

import (
	"context"
	"errors"
	"strconv"
	"strings"
)

// A blockRef names a block of a tree and what is needed to read and
// decode it: its type, the stream it belongs to (block sizes), the
// number of its first data block, and the path to it.
type blockRef struct {
	score Score
	typ   Type
	e     Entry // the stream: Psize, Dsize
	first int64
	path  string
}

// size is the most the block can hold.
func (r blockRef) size() int {
	switch {
	case r.typ == RootType:
		return RootSize
	case r.typ.Depth() > 0:
		return r.e.Psize
	}
	return r.e.Dsize
}

// leaf reports whether the block names no other blocks (file data).
func (r blockRef) leaf() bool { return r.typ == DataType }

// rootRef names a root block.
func rootRef(s Score, path string) blockRef {
	return blockRef{score: s, typ: RootType, path: path}
}

// children returns the blocks a block names, in order, as venti/copy
// finds them: a root's prev chain then its directory; every active entry
// of a directory block (a short last entry padded); every non-zero
// score of a pointer block. Entries that do not decode come back as
// errors with their paths; zero scores are left out.
func children(r blockRef, data []byte) ([]blockRef, []pathError, error) {
	var out []blockRef
	var bad []pathError
	add := func(c blockRef) {
		if !c.score.IsZero() {
			out = append(out, c)
		}
	}
	switch {
	case r.typ == RootType:
		root, err := UnpackRoot(data)
		if err != nil {
			return nil, nil, err
		}
		add(blockRef{score: root.Prev, typ: RootType, path: r.path + "/prev"})
		dir := Entry{Type: DirType, Dsize: root.BlockSize, Psize: root.BlockSize / EntrySize * EntrySize}
		add(blockRef{score: root.Score, typ: DirType, e: dir, path: r.path})
	case r.typ.Depth() > 0:
		per := int64(1)
		for range r.typ.Depth() - 1 {
			per *= int64(r.e.Psize / ScoreSize)
		}
		for i := 0; (i+1)*ScoreSize <= len(data); i++ {
			first := r.first + int64(i)*per
			p := r.path + "/b" + strconv.FormatInt(first, 10)
			if r.typ.Depth() > 1 {
				p = r.path + "/p" + strconv.Itoa(r.typ.Depth()-1) + "." + strconv.FormatInt(first/per, 10)
			}
			add(blockRef{score: Score(data[i*ScoreSize:]), typ: r.typ - 1, e: r.e, first: first, path: p})
		}
	case r.typ == DirType:
		base := r.first * int64(r.e.Dsize/EntrySize)
		for i := 0; i*EntrySize < len(data); i++ {
			var eb [EntrySize]byte
			copy(eb[:], data[i*EntrySize:])
			p := r.path + "/e" + strconv.FormatInt(base+int64(i), 10)
			ce, err := UnpackEntry(eb[:])
			if err != nil {
				bad = append(bad, pathError{p, err})
				continue
			}
			if ce.Active() {
				add(blockRef{score: ce.Score, typ: ce.Type, e: ce, path: p})
			}
		}
	}
	return out, bad, nil
}

type pathError struct {
	path string
	err  error
}

// Has reports whether r has the block, as cheaply as r allows: a read
// of count 0, which plan9port venti and ours refuse with "read too
// small" when the block is there and "no block" when it is not. A
// local store may simply return the block.
func Has(ctx context.Context, r BlockReader, s Score, t Type) (bool, error) {
	if s.IsZero() {
		return true, nil
	}
	_, err := r.Read(ctx, s, t, 0)
	var se ServerError
	switch {
	case err == nil:
		return true, nil
	case IsNotFound(err):
		return false, nil
	case errors.As(err, &se) && strings.HasPrefix(string(se), "read too small"):
		return true, nil
	}
	return false, err
}
