package arena

import (
	"context"
	"errors"

	"replfs/venti"
)

// A RootClump is a root block found in an arena's log: a vac archive,
// a fossil archive (type vac, name fossil), a replfs root score log
// (type replfs, name rootscor).
type RootClump struct {
	Score  venti.Score
	Root   venti.Root // decoded; zero when Err is set
	Time   uint32     // the clump's time, Unix seconds
	Arena  string
	Index  uint32 // the clump's number in the arena's directory
	Offset int64  // log offset of the clump header (printarena's offset)
	// Err is set for a root clump that cannot be read, fails its checks
	// or does not hold a VtRoot. Score is then the directory's.
	Err error
}

// dirChunk is how many directory blocks walkDir reads at once.
const dirChunk = 128

// walkDir calls fn with each directory entry of the clumps the arena's
// memstats count, in order, with the log offset of its clump. It reads
// the directory in chunks of dirChunk blocks and nothing of the log; an
// entry whose clump would run past memstats.used is an error, and so is
// an error from fn. The entry is valid only during the call.
func (a *Arena) walkDir(ctx context.Context, fn func(i uint32, off int64, e []byte) error) error {
	n := a.Mem.Clumps
	if n == 0 {
		return nil
	}
	used := int64(a.Mem.Used)
	cm := uint32(a.clumpMax())
	bs := int64(a.BlockSize)
	nblk := int64((n + cm - 1) / cm)
	if a.dirSize(n-1) > a.DataSize() {
		return a.errorf("%w: directory of %d clumps outside arena", venti.ErrCorrupt, n)
	}
	buf := make([]byte, min(nblk, dirChunk)*bs)
	top := a.Base() + a.DataSize() // directory block k is at top-(k+1)*bs
	var i uint32
	var off int64
	for k0 := int64(0); k0 < nblk; k0 += dirChunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		k1 := min(k0+dirChunk, nblk)
		b := buf[:(k1-k0)*bs]
		if _, err := a.f.ReadAt(b, top-k1*bs); err != nil {
			return a.errorf("read directory: %w", err)
		}
		for k := k0; k < k1; k++ {
			blk := b[(k1-1-k)*bs:]
			for j := uint32(0); j < cm && i < n; j, i = j+1, i+1 {
				e := blk[j*ClumpInfoSize : (j+1)*ClumpInfoSize]
				if off+ClumpSize+int64(be16(e[1:])) > used {
					return a.errorf("%w: directory runs past used at clump %d (%#x)", venti.ErrCorrupt, i, off)
				}
				if err := fn(i, off, e); err != nil {
					return err
				}
				off += ClumpSize + int64(be16(e[1:]))
			}
		}
	}
	return nil
}

// WalkRoots calls fn, in log order, with each root clump of the
// arena's log as its directory lists them. It reads the directory in
// large sequential chunks and, of the log, only the root clumps. Sealed
// and unsealed arenas alike are read as far as memstats count; to see
// what a running venti has written since the Arena was read, walk a
// Snapshot. A root clump that fails is passed with Err set and the walk
// goes on. An error in the directory itself, from fn or from ctx ends
// the walk and is returned. The RootClump is valid only during the call.
func (a *Arena) WalkRoots(ctx context.Context, fn func(*RootClump) error) error {
	var r RootClump
	return a.walkDir(ctx, func(i uint32, off int64, e []byte) error {
		if e[0] != diskRootType {
			return nil
		}
		ci := unpackClumpInfo(e)
		r = RootClump{Arena: a.Name, Index: i, Offset: off, Score: ci.Score}
		a.loadRoot(&r, ci)
		return fn(&r)
	})
}

// Roots returns what WalkRoots finds, and the roots found before an
// error with the error.
func (a *Arena) Roots(ctx context.Context) ([]RootClump, error) {
	var out []RootClump
	err := a.WalkRoots(ctx, func(r *RootClump) error {
		out = append(out, *r)
		return nil
	})
	return out, err
}

// diskRootType is the disk type of root blocks.
const diskRootType = 1

// loadRoot reads and checks the root clump r names, whose directory
// entry is ci.
func (a *Arena) loadRoot(r *RootClump, ci ClumpInfo) {
	hb := make([]byte, ClumpSize)
	if _, err := a.f.ReadAt(hb, a.Base()+r.Offset); err != nil {
		r.Err = a.errorf("clump %#x failed to read: %w", r.Offset, err)
		return
	}
	h, err := unpackClump(hb, a.ClumpMagic)
	if err != nil {
		r.Err = a.errorf("clump %#x: %w", r.Offset, err)
		return
	}
	if h.score != ci.Score || h.dtype != ci.DiskType || h.size != ci.Size || h.uncsize != ci.Uncsize {
		r.Err = a.errorf("clump %#x: %w: header disagrees with directory", r.Offset, venti.ErrCorrupt)
		return
	}
	r.Time = h.time
	raw := make([]byte, h.size)
	if _, err := a.f.ReadAt(raw, a.Base()+r.Offset+ClumpSize); err != nil {
		r.Err = a.errorf("clump %#x failed to read: %w", r.Offset, err)
		return
	}
	data, err := decodeClump(h, raw)
	if err != nil {
		r.Err = a.errorf("clump %#x: %w", r.Offset, err)
		return
	}
	if r.Root, err = venti.UnpackRoot(data); err != nil {
		r.Err = a.errorf("clump %#x: %w", r.Offset, err)
	}
}

// Roots returns the root clumps of every arena of the partition, in
// order, holding them all in memory. An error in one arena's directory
// does not stop the others: the errors are joined and returned with
// every root found. An error from ctx stops the walk.
func (p *Partition) Roots(ctx context.Context) ([]RootClump, error) {
	var out []RootClump
	var errs []error
	for _, a := range p.Arenas {
		r, err := a.Roots(ctx)
		out = append(out, r...)
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}
