package arena

import (
	"context"
	"sort"
	"sync"

	"replfs/venti"
)

// A Reader is a venti.BlockReader over arena partitions opened read
// only, as a dead host's disks are: no index, no recovery, nothing
// written. It finds blocks through the arenas' directories, indexing an
// arena the first time a block is not found in those indexed so far:
// the arena it was made near first, then the ones before it, newest
// first, then the ones after. Blocks written just before a root are thus
// found by reading one or two directories. A Reader is safe for
// concurrent use.
type Reader struct {
	mu     sync.Mutex
	arenas []*Arena
	addrs  []uint64 // index address of each arena's log offset 0
	order  []int    // arenas not indexed yet, next first
	idx    *index
}

// NewReader returns a Reader over the arenas (of partitions, or opened
// alone), in the order of writing, which will index the arena named near
// first (the last arena if near is "" or not found).
func NewReader(arenas []*Arena, near string) *Reader {
	r := &Reader{idx: newIndex(0), arenas: arenas}
	var addr uint64
	at := -1
	for i, a := range arenas {
		if a.Name == near && at < 0 {
			at = i
		}
		r.addrs = append(r.addrs, addr)
		addr += uint64(a.DataSize())
	}
	if at < 0 {
		at = len(r.arenas) - 1
	}
	for i := at; i >= 0; i-- {
		r.order = append(r.order, i)
	}
	for i := at + 1; i < len(r.arenas); i++ {
		r.order = append(r.order, i)
	}
	return r
}

// Read implements venti.BlockReader; max is not checked. A block not
// found in the arenas indexed so far makes Read index more, until it is
// found or all are indexed. A clump that fails its checks, or a
// directory that does, is an error naming its arena, unless a good copy
// is found.
func (r *Reader) Read(ctx context.Context, s venti.Score, t venti.Type, max int) ([]byte, error) {
	dt, ok := t.DiskType()
	if !ok {
		return nil, venti.NotFound(s, t)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var (
		bad   error // a damaged copy or directory; another may be good
		tried = map[uint64]bool{}
	)
	for {
		var found []uint64
		r.idx.lookup(s, dt, func(addr uint64, size uint16) bool {
			if !tried[addr] {
				found = append(found, addr)
			}
			return false
		})
		for _, addr := range found {
			tried[addr] = true
			i := sort.Search(len(r.addrs), func(i int) bool { return r.addrs[i] > addr }) - 1
			data, err := r.arenas[i].readClump(int64(addr-r.addrs[i]), s, dt)
			if err != nil {
				bad = err
				continue
			}
			if data != nil {
				return data, nil
			}
		}
		if len(r.order) == 0 {
			break
		}
		if err := r.indexNext(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			bad = err
		}
	}
	if bad != nil {
		return nil, bad
	}
	return nil, venti.NotFound(s, t)
}

// indexNext adds the next arena's directory to the index.
func (r *Reader) indexNext(ctx context.Context) error {
	i := r.order[0]
	r.order = r.order[1:]
	a, base := r.arenas[i], r.addrs[i]
	return a.walkDir(ctx, func(_ uint32, off int64, e []byte) error {
		if venti.FromDiskType(e[0]) != venti.CorruptType {
			r.idx.insert(venti.Score(e[5:25]), e[0], base+uint64(off), be16(e[1:]))
		}
		return nil
	})
}

// readClump returns the block of the clump at log offset off if it is
// the block (s, dt): nil and no error if the clump is another block.
func (a *Arena) readClump(off int64, s venti.Score, dt uint8) ([]byte, error) {
	hb := make([]byte, ClumpSize)
	if _, err := a.f.ReadAt(hb, a.Base()+off); err != nil {
		return nil, a.errorf("read clump %#x: %w", off, err)
	}
	h, err := unpackClump(hb, a.ClumpMagic)
	if err != nil {
		return nil, a.errorf("clump %#x: %w", off, err)
	}
	if h.score != s || h.dtype != dt {
		return nil, nil
	}
	raw := make([]byte, h.size)
	if _, err := a.f.ReadAt(raw, a.Base()+off+ClumpSize); err != nil {
		return nil, a.errorf("read clump %#x: %w", off, err)
	}
	data, err := decodeClump(h, raw)
	if err != nil {
		return nil, a.errorf("clump %#x: %w", off, err)
	}
	return data, nil
}

var _ venti.BlockReader = (*Reader)(nil)
