package fossil

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"replfs/venti"
)

// FormatOptions control FormatV.
type FormatOptions struct {
	BlockSize int    // default 8192
	Label     string // the superblock's name; default "vfs"
	// Force formats a partition that already has a fossil header, as
	// flfmt -y does.
	Force bool
}

// ErrInUse refuses a partition that already holds a fossil.
var ErrInUse = errors.New("partition has a fossil header (in use?); force to format it")

// FormatV re-roots the fossil partition at path on the archive named by
// score, exactly as flfmt -v does (plan9port src/cmd/fossil/flfmt.c):
// the header, zeroed labels, the archive's top directory block copied
// into data block 0, a root block holding a local entry for it in block
// 1, and a superblock whose qid comes from the archive's root metadata
// and whose last archive is the zero score. The config block at 127 KiB
// is left alone. Everything else is read from venti on demand once
// fossil runs. The score must be a fossil archive root. A file that is
// not a fossil partition is refused unless it holds only zeros where
// the format writes (see CheckFormat).
func FormatV(ctx context.Context, path string, r venti.BlockReader, score venti.Score, opts FormatOptions) error {
	if opts.BlockSize == 0 {
		opts.BlockSize = 8192
	}
	if opts.Label == "" {
		opts.Label = "vfs"
	}
	bs := opts.BlockSize
	if bs%512 != 0 || bs > venti.MaxLumpSize {
		return fmt.Errorf("flfmt: bad block size %d", bs)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("flfmt: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("flfmt: %w", err)
	}
	hb := make([]byte, bs)
	if _, err := f.ReadAt(hb, HeaderOffset); err != nil {
		return fmt.Errorf("flfmt %s: could not read fs header block: %w", path, err)
	}
	if err := checkFormat(f, st.Size(), path, bs); err != nil {
		return err
	}
	if _, err := unpackHeader(hb); err == nil && !opts.Force {
		return fmt.Errorf("flfmt %s: %w", path, ErrInUse)
	}

	// Everything from venti first: a bad score changes nothing on disk.
	top, qid, err := readArchive(ctx, r, score, bs)
	if err != nil {
		return fmt.Errorf("flfmt %s: vac:%v: %w", path, score, err)
	}

	h, err := layout(st.Size(), bs)
	if err != nil {
		return fmt.Errorf("flfmt %s: %w", path, err)
	}
	packHeader(h, hb) // the rest of the block stays as it was, as flfmt's does
	w := &blockWriter{f: f, h: h}
	if err := w.raw(HeaderOffset, hb); err != nil {
		return err
	}
	zero := make([]byte, bs)
	for bn := h.Label; bn < h.Data; bn++ {
		if err := w.raw(int64(bn)*int64(bs), zero); err != nil {
			return err
		}
	}
	// Block 0: the archive's top directory; block 1: the root, a local
	// entry pointing at block 0.
	tag := newTag()
	if err := w.label(0, btDir, tag); err != nil {
		return err
	}
	if err := w.data(0, top); err != nil {
		return err
	}
	if err := w.label(1, btDir, rootTag); err != nil {
		return err
	}
	root := make([]byte, bs)
	packLocalDirEntry(root, bs, tag, 0)
	if err := w.data(1, root); err != nil {
		return err
	}
	sb := make([]byte, bs)
	packSuper(Super{EpochLow: 1, EpochHigh: 1, Qid: qid, Active: 1, Next: NilBlock, Current: NilBlock,
		Last: venti.ZeroScore, Name: opts.Label}, sb)
	if err := w.raw(int64(h.Super)*int64(bs), sb); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("flfmt %s: %w", path, err)
	}
	return nil
}

// CheckArchive checks, as FormatV does before writing anything, that
// score names a fossil archive root whose top blocks r holds.
func CheckArchive(ctx context.Context, r venti.BlockReader, score venti.Score) error {
	if score == venti.ZeroScore {
		return errors.New("the zero score is no archive")
	}
	_, _, err := readArchive(ctx, r, score, 8192)
	return err
}

// layout computes the partition's layout as flfmt's partition does.
func layout(size int64, bs int) (Header, error) {
	h := Header{BlockSize: bs}
	lpb := uint64(bs / labelSize)
	nblock := uint64(size) / uint64(bs)
	if nblock < HeaderOffset*10/uint64(bs) {
		return h, errors.New("file too small")
	}
	h.Super = uint32((HeaderOffset + 2*bs) / bs)
	h.Label = h.Super + 1
	ndata := lpb * (nblock - uint64(h.Label)) / (lpb + 1)
	nlabel := (ndata + lpb - 1) / lpb
	h.Data = h.Label + uint32(nlabel)
	h.End = h.Data + uint32(ndata)
	return h, nil
}

// readArchive reads the archive's top directory block (three entries),
// zero-extended to bs, and the next qid from its root metadata.
func readArchive(ctx context.Context, r venti.BlockReader, score venti.Score, bs int) ([]byte, uint64, error) {
	b, err := r.Read(ctx, score, venti.RootType, venti.RootSize)
	if err != nil {
		return nil, 0, err
	}
	root, err := venti.UnpackRoot(b)
	if err != nil {
		return nil, 0, fmt.Errorf("corrupted root: %w", err)
	}
	if root.Type != "vac" || root.Name != "fossil" {
		return nil, 0, fmt.Errorf("not a fossil archive root (name %q, type %q)", root.Name, root.Type)
	}
	dir, err := r.Read(ctx, root.Score, venti.DirType, bs)
	if err != nil {
		return nil, 0, err
	}
	// Fossil's archives start with an extra level: one entry above the
	// three.
	if len(dir) <= 2*venti.EntrySize {
		e, err := venti.UnpackEntry(venti.ZeroExtend(venti.DirType, dir, venti.EntrySize))
		if err != nil {
			return nil, 0, fmt.Errorf("bad root: top entry: %w", err)
		}
		if dir, err = r.Read(ctx, e.Score, venti.DirType, bs); err != nil {
			return nil, 0, err
		}
	}
	if len(dir) > 3*venti.EntrySize {
		return nil, 0, errors.New("bad root: entry count")
	}
	top := venti.ZeroExtend(venti.DirType, dir, bs)
	var meta venti.Entry
	for i := range 3 {
		e, err := venti.UnpackEntry(top[i*venti.EntrySize:])
		if err != nil || !e.Active() || e.Psize < 256 || e.Dsize < 256 {
			return nil, 0, fmt.Errorf("bad root: entry %d", i)
		}
		meta = e
	}
	// The largest qid is in the root's metadata, entry 2.
	mb, err := r.Read(ctx, meta.Score, venti.DataType, bs)
	if err != nil {
		return nil, 0, err
	}
	dirs, err := venti.UnpackMetaBlock(venti.ZeroExtend(venti.DataType, mb, bs))
	if err != nil || len(dirs) == 0 {
		return nil, 0, fmt.Errorf("bad root: meta block: %v", err)
	}
	if !dirs[0].QidSpace {
		return nil, 0, errors.New("bad root: no qidSpace")
	}
	return top, dirs[0].QidMax, nil
}

// packLocalDirEntry packs fossil's local entry for a directory source
// of three entries at data block addr (pack.c entryPack, local form).
func packLocalDirEntry(b []byte, bs int, tag, addr uint32) {
	binary.BigEndian.PutUint32(b, 0) // gen
	binary.BigEndian.PutUint16(b[4:], uint16(bs/venti.EntrySize*venti.EntrySize))
	binary.BigEndian.PutUint16(b[6:], uint16(bs))
	b[8] = venti.EntryActive | venti.EntryLocal | 0x02 // dir, depth 0
	binary.BigEndian.PutUint16(b[14:], 0)
	binary.BigEndian.PutUint32(b[16:], 3*venti.EntrySize)
	// b[20:27] zero, archive b[27] = 0, snap b[28:32] = 0
	binary.BigEndian.PutUint32(b[32:], tag)
	binary.BigEndian.PutUint32(b[36:], addr)
}

// newTag returns a random block tag above the root's (flfmt tagGen).
func newTag() uint32 {
	var b [4]byte
	for {
		rand.Read(b[:])
		if t := binary.BigEndian.Uint32(b[:]) &^ (1 << 31); t > rootTag {
			return t
		}
	}
}

type blockWriter struct {
	f *os.File
	h Header
}

func (w *blockWriter) raw(off int64, b []byte) error {
	if _, err := w.f.WriteAt(b, off); err != nil {
		return fmt.Errorf("flfmt: write: %w", err)
	}
	return nil
}

func (w *blockWriter) data(addr uint32, b []byte) error {
	return w.raw(int64(w.h.Data+addr)*int64(w.h.BlockSize), b)
}

// label sets data block addr's label: allocated in epoch 1, never closed.
func (w *blockWriter) label(addr uint32, typ uint8, tag uint32) error {
	bs := int64(w.h.BlockSize)
	lpb := uint32(w.h.BlockSize / labelSize)
	off := int64(w.h.Label+addr/lpb)*bs + int64(addr%lpb)*labelSize
	l := make([]byte, labelSize)
	l[0] = bsAlloc
	l[1] = typ
	binary.BigEndian.PutUint32(l[2:], 1)
	binary.BigEndian.PutUint32(l[6:], 0xffffffff)
	binary.BigEndian.PutUint32(l[10:], tag)
	return w.raw(off, l)
}
