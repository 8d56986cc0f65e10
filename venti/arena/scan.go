package arena

import (
	"context"
	"fmt"

	"replfs/venti"
)

// A Clump is one block of an arena's log, as Scan delivers it.
type Clump struct {
	Offset   int64      // log offset of the clump header
	Index    uint32     // its number in the directory
	Info     ClumpInfo  // its directory entry
	Type     venti.Type // the block type, in memory numbering
	Score    venti.Score
	Encoding uint8
	Time     uint32
	// Data is the block, decompressed and checked against Score. It is
	// valid only until the callback returns.
	Data []byte
	// Err is set, and Data nil, for a clump that is marked corrupt,
	// cannot be read, or fails its checks. Scan skips such clumps after
	// reporting them.
	Err error
}

// scanChunk is how much of the log Scan reads at once.
const scanChunk = 1 << 20

// Scan calls fn, in log order, for every clump in the arena's directory
// whose header is at or after log offset from, exactly as plan9port's
// wrarena walks an arena: the directory (memstats) lists the clumps,
// each is read, decompressed and verified. A clump that fails is passed
// with Err set and skipped, and the walk goes on. Scan returns the log
// offset just past the last clump listed (at least from), which is
// where the next Scan should start; an error from fn or ctx stops the
// walk and returns the offset of the clump that was not finished.
//
// Scan reads the directory and the log in large sequential chunks. It
// walks the clumps the Arena's stats count; to see what a running venti
// has appended since the Arena was read, Scan a Snapshot. Scan does not
// change the Arena, so several may run on one at once.
func (a *Arena) Scan(ctx context.Context, from int64, fn func(*Clump) error) (end int64, err error) {
	if from < 0 || from >= a.DataSize() {
		return from, a.errorf("bad offset %#x >= %#x", from, a.DataSize())
	}
	if from >= int64(a.Mem.Used) {
		return from, nil // nothing new
	}
	n := a.Mem.Clumps
	dir, err := a.ReadDir(0, n)
	if err != nil {
		return from, err
	}
	w := window{f: a.f, base: a.Base(), limit: int64(a.Mem.Used)}
	var (
		c    Clump
		ubuf []byte
		off  int64
	)
	for i, ci := range dir {
		next := off + ClumpSize + int64(ci.Size)
		if next > int64(a.Mem.Used) {
			return max(off, from), a.errorf("%w: directory runs past used at clump %d (%#x)", venti.ErrCorrupt, i, off)
		}
		if off < from {
			off = next
			continue
		}
		if err := ctx.Err(); err != nil {
			return off, err
		}
		c = Clump{Offset: off, Index: uint32(i), Info: ci}
		if ci.Type() == venti.CorruptType {
			c.Err = a.errorf("corrupt clump at %#x: +%d", off, ClumpSize+int(ci.Size))
		} else {
			ubuf, c.Err = a.loadClump(&w, &c, ubuf)
		}
		if err := fn(&c); err != nil {
			return off, err
		}
		off = next
	}
	return max(off, from), nil
}

// loadClump reads and checks the clump c at c.Offset whose directory
// entry is c.Info, decompressing into ubuf (grown as needed).
func (a *Arena) loadClump(w *window, c *Clump, ubuf []byte) ([]byte, error) {
	b, err := w.get(c.Offset, ClumpSize+int(c.Info.Size))
	if err != nil {
		return ubuf, a.errorf("clump %#x failed to read: %w", c.Offset, err)
	}
	h, err := unpackClump(b, a.ClumpMagic)
	if err != nil {
		return ubuf, a.errorf("clump %#x: %w", c.Offset, err)
	}
	if h.size != c.Info.Size || h.uncsize != c.Info.Uncsize || h.score != c.Info.Score || h.dtype != c.Info.DiskType {
		return ubuf, a.errorf("clump %#x: %w: header disagrees with directory", c.Offset, venti.ErrCorrupt)
	}
	c.Type, c.Score, c.Encoding, c.Time = h.Type(), h.score, h.encoding, h.time
	if c.Type == venti.CorruptType {
		return ubuf, a.errorf("clump %#x: %w: bad type %d", c.Offset, venti.ErrCorrupt, h.dtype)
	}
	raw := b[ClumpSize:]
	data := raw
	if h.encoding == EncodingCompress {
		if cap(ubuf) < int(h.uncsize) {
			ubuf = make([]byte, venti.MaxLumpSize+8*1024)
		}
		ubuf = ubuf[:h.uncsize]
		n, err := unwhack(ubuf, raw)
		if err == nil && n != int(h.uncsize) {
			err = fmt.Errorf("gave partial block: %d/%d", n, h.uncsize)
		}
		if err != nil {
			return ubuf, a.errorf("clump %#x: %w: decompression failed: %v", c.Offset, venti.ErrCorrupt, err)
		}
		data = ubuf
	}
	if s := venti.Sum(data); s != h.score {
		return ubuf, a.errorf("clump %#x has mismatched score: %w: want %v got %v", c.Offset, venti.ErrCorrupt, h.score, s)
	}
	c.Data = data
	return ubuf, nil
}

// A window reads a region of a file in large chunks and hands out
// slices of its buffer.
type window struct {
	f     *file
	base  int64 // file offset of log offset 0
	limit int64 // log offsets at or past limit are not read
	buf   []byte
	off   int64 // log offset of buf[0]
}

// get returns n bytes at log offset off, valid until the next call.
func (w *window) get(off int64, n int) ([]byte, error) {
	if off < 0 || off+int64(n) > w.limit {
		return nil, fmt.Errorf("%w: clump at %#x+%d past end of log %#x", venti.ErrCorrupt, off, n, w.limit)
	}
	if off >= w.off && off+int64(n) <= w.off+int64(len(w.buf)) {
		return w.buf[off-w.off : off-w.off+int64(n)], nil
	}
	size := min(max(int64(n), scanChunk), w.limit-off)
	if int64(cap(w.buf)) < size {
		w.buf = make([]byte, max(size, scanChunk))
	}
	w.buf = w.buf[:size]
	if _, err := w.f.ReadAt(w.buf, w.base+off); err != nil {
		w.buf = w.buf[:0]
		return nil, err
	}
	w.off = off
	return w.buf[:n], nil
}
