package venti

import (
	"context"
	"fmt"
	"io"
)

// A BlockReader reads blocks from a venti server or store: Conn and any
// Store do.
type BlockReader interface {
	Read(ctx context.Context, s Score, t Type, max int) ([]byte, error)
}

// A File reads the stream an Entry describes: data blocks of Dsize
// under pointer blocks of Psize, Type's depth levels of them, zero
// truncated (plan9port src/libventi/file.c). It keeps the last pointer
// block of each level, so reading a stream in order reads each block
// once. A File is not safe for concurrent use.
type File struct {
	r     BlockReader
	e     Entry
	cache [8]struct {
		score Score
		data  []byte
	}
}

// NewFile returns a File reading e's stream from r.
func NewFile(r BlockReader, e Entry) *File { return &File{r: r, e: e} }

// Entry returns the entry the File reads.
func (f *File) Entry() Entry { return f.e }

// NumBlocks returns the number of data blocks in the stream.
func (f *File) NumBlocks() int64 {
	return int64((f.e.Size + uint64(f.e.Dsize) - 1) / uint64(f.e.Dsize))
}

// Block returns data block n, zero-extended to Dsize. A block under a
// zero score is all zeros.
func (f *File) Block(ctx context.Context, n int64) ([]byte, error) {
	if n < 0 || n >= f.NumBlocks() {
		return nil, fmt.Errorf("block %d outside stream of %d", n, f.NumBlocks())
	}
	depth := f.e.Type.Depth()
	base := f.e.Type - Type(depth)
	np := int64(f.e.Psize / ScoreSize)
	// Digits of n in base np, top level first.
	idx := make([]int64, depth+1)
	m := n
	for l := 1; l <= depth; l++ {
		idx[l] = m % np
		m /= np
	}
	if m != 0 {
		return nil, fmt.Errorf("%w: block %d beyond a tree of depth %d", ErrCorrupt, n, depth)
	}
	score := f.e.Score
	for l := depth; l >= 1; l-- {
		if score.IsZero() {
			return make([]byte, f.e.Dsize), nil
		}
		c := &f.cache[l]
		if c.data == nil || c.score != score {
			b, err := f.r.Read(ctx, score, base+Type(l), f.e.Psize)
			if err != nil {
				return nil, err
			}
			c.score, c.data = score, ZeroExtend(base+Type(l), b, f.e.Psize)
		}
		copy(score[:], c.data[idx[l]*ScoreSize:])
	}
	if score.IsZero() {
		return make([]byte, f.e.Dsize), nil
	}
	b, err := f.r.Read(ctx, score, base, f.e.Dsize)
	if err != nil {
		return nil, err
	}
	return ZeroExtend(base, b, f.e.Dsize), nil
}

// WriteTo writes the stream's bytes to w.
func (f *File) WriteTo(ctx context.Context, w io.Writer) (int64, error) {
	var n int64
	for i := range f.NumBlocks() {
		b, err := f.Block(ctx, i)
		if err != nil {
			return n, err
		}
		if left := int64(f.e.Size) - n; int64(len(b)) > left {
			b = b[:left]
		}
		m, err := w.Write(b)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// EntryAt returns entry i of a stream of entries (a directory source).
func (f *File) EntryAt(ctx context.Context, i int) (Entry, error) {
	per := f.e.Dsize / EntrySize
	if i < 0 || uint64(i)*EntrySize >= f.e.Size {
		return Entry{}, fmt.Errorf("entry %d outside directory of %d bytes", i, f.e.Size)
	}
	b, err := f.Block(ctx, int64(i/per))
	if err != nil {
		return Entry{}, err
	}
	return UnpackEntry(b[(i%per)*EntrySize:])
}

// NumEntries returns the number of entries in a directory source.
func (f *File) NumEntries() int { return int(f.e.Size / EntrySize) }
