package venti

import (
	"context"
	"encoding/binary"
	"fmt"
)

// Vac directory metadata (plan9port src/cmd/vac/vac.h and pack.c): a
// directory is two streams, one of Entries (its children's data, and
// for child directories their own two streams) and one of MetaBlocks
// holding a DirEntry per child.
const (
	metaMagic      = 0x5656fc79
	metaHeaderSize = 12
	metaIndexSize  = 4
	dirMagic       = 0x1c4d9072

	dirQidSpaceEntry = 3

	// ModeDir marks a directory in VacDir.Mode; the low nine bits are the
	// Unix permission bits.
	ModeDir  = 1 << 15
	ModeLink = 1 << 14
)

// A VacDir is a vac directory entry: a file's name and attributes.
type VacDir struct {
	Elem   string
	Entry  uint32 // index of its data stream in the parent's entries
	Gen    uint32
	Mentry uint32 // index of its metadata stream (directories)
	Mgen   uint32
	Qid    uint64
	Uid    string
	Gid    string
	Mid    string
	Mtime  uint32
	Mcount uint32
	Ctime  uint32
	Atime  uint32
	Mode   uint32
	// QidSpace is set when the entry carries a qid range (fossil's root
	// does: QidMax is the next qid of the file system it came from).
	QidSpace  bool
	QidOffset uint64
	QidMax    uint64
}

// A VacFile is a file or directory of a vac tree.
type VacFile struct {
	Dir     VacDir
	Size    uint64
	r       BlockReader
	source  Entry // data, or for a directory its entries
	msource Entry // a directory's metadata
}

// IsDir reports whether the file is a directory.
func (f *VacFile) IsDir() bool { return f.Dir.Mode&ModeDir != 0 }

// OpenVac opens the vac tree named by a root score (a vac archive, or a
// fossil snapshot) and returns its top directory.
func OpenVac(ctx context.Context, r BlockReader, score Score) (*VacFile, error) {
	b, err := r.Read(ctx, score, RootType, RootSize)
	if err != nil {
		return nil, err
	}
	root, err := UnpackRoot(b)
	if err != nil {
		return nil, err
	}
	if root.Type != "vac" {
		return nil, fmt.Errorf("vac:%v: not a vac root (type %q)", score, root.Type)
	}
	dir := NewFile(r, Entry{Type: DirType, Flags: EntryActive, Psize: root.BlockSize / EntrySize * EntrySize,
		Dsize: root.BlockSize, Size: 3 * EntrySize, Score: root.Score})
	for range 2 {
		e0, err := dir.EntryAt(ctx, 0)
		if err != nil {
			return nil, err
		}
		e2, err := dir.EntryAt(ctx, 2)
		if err != nil {
			return nil, err
		}
		if !e2.Active() {
			// Fossil's archives have an extra level: entry 0 holds the
			// three entries (vac's _vacfileroot).
			dir = NewFile(r, e0)
			continue
		}
		e1, err := dir.EntryAt(ctx, 1)
		if err != nil {
			return nil, err
		}
		dirs, err := readMeta(ctx, r, e2)
		if err != nil {
			return nil, err
		}
		if len(dirs) == 0 {
			return nil, fmt.Errorf("%w: vac root has no directory entry", ErrCorrupt)
		}
		return &VacFile{Dir: dirs[0], r: r, source: e0, msource: e1}, nil
	}
	return nil, fmt.Errorf("%w: vac root entries not active", ErrCorrupt)
}

// ReadDir returns a directory's children.
func (f *VacFile) ReadDir(ctx context.Context) ([]*VacFile, error) {
	if !f.IsDir() {
		return nil, fmt.Errorf("%s: not a directory", f.Dir.Elem)
	}
	dirs, err := readMeta(ctx, f.r, f.msource)
	if err != nil {
		return nil, err
	}
	src := NewFile(f.r, f.source)
	var out []*VacFile
	for _, d := range dirs {
		c := &VacFile{Dir: d, r: f.r}
		if c.source, err = src.EntryAt(ctx, int(d.Entry)); err != nil {
			return nil, fmt.Errorf("%s: %w", d.Elem, err)
		}
		c.Size = c.source.Size
		if c.IsDir() {
			c.Size = 0
			if c.msource, err = src.EntryAt(ctx, int(d.Mentry)); err != nil {
				return nil, fmt.Errorf("%s: %w", d.Elem, err)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// Data returns a file's contents as a stream.
func (f *VacFile) Data() *File { return NewFile(f.r, f.source) }

// readMeta returns the DirEntries of every MetaBlock in a metadata
// stream, in order.
func readMeta(ctx context.Context, r BlockReader, e Entry) ([]VacDir, error) {
	if !e.Active() || e.Size == 0 {
		return nil, nil
	}
	f := NewFile(r, e)
	var out []VacDir
	for n := range f.NumBlocks() {
		b, err := f.Block(ctx, n)
		if err != nil {
			return nil, err
		}
		dirs, err := unpackMetaBlock(b)
		if err != nil {
			return nil, fmt.Errorf("meta block %d: %w", n, err)
		}
		out = append(out, dirs...)
	}
	return out, nil
}

// UnpackMetaBlock returns the DirEntries of a MetaBlock, in order.
func UnpackMetaBlock(b []byte) ([]VacDir, error) { return unpackMetaBlock(b) }

// unpackMetaBlock decodes a MetaBlock (pack.c mbunpack, meunpack): a
// header, an index of (offset, size) pairs, and the DirEntries.
func unpackMetaBlock(b []byte) ([]VacDir, error) {
	if len(b) < metaHeaderSize {
		return nil, fmt.Errorf("%w: short meta block", ErrCorrupt)
	}
	if m := binary.BigEndian.Uint32(b); m != metaMagic && m != metaMagic+1 {
		if m == 0 {
			return nil, nil // an unused block
		}
		return nil, fmt.Errorf("%w: bad meta block magic %#08x", ErrCorrupt, m)
	}
	size := int(binary.BigEndian.Uint16(b[4:]))
	maxindex := int(binary.BigEndian.Uint16(b[8:]))
	nindex := int(binary.BigEndian.Uint16(b[10:]))
	if size > len(b) || metaHeaderSize+maxindex*metaIndexSize > len(b) || nindex > maxindex {
		return nil, fmt.Errorf("%w: bad meta block size", ErrCorrupt)
	}
	var out []VacDir
	for i := range nindex {
		p := b[metaHeaderSize+i*metaIndexSize:]
		eo, en := int(binary.BigEndian.Uint16(p)), int(binary.BigEndian.Uint16(p[2:]))
		if eo < metaHeaderSize+maxindex*metaIndexSize || eo+en > size {
			return nil, fmt.Errorf("%w: corrupted entry in meta block", ErrCorrupt)
		}
		d, err := unpackVacDir(b[eo : eo+en])
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// unpackVacDir decodes a DirEntry, versions 7 to 9 (pack.c vdunpack).
func unpackVacDir(b []byte) (VacDir, error) {
	var d VacDir
	bad := fmt.Errorf("%w: corrupted meta data", ErrCorrupt)
	dec := decoder{b: b}
	if binary.BigEndian.Uint32(append(dec.bytes(4), 0, 0, 0, 0)) != dirMagic {
		return d, bad
	}
	vb := dec.bytes(2)
	if dec.err {
		return d, bad
	}
	version := binary.BigEndian.Uint16(vb)
	if version < 7 || version > 9 {
		return d, bad
	}
	d.Elem = dec.vstr()
	d.Entry = dec.u32()
	if version < 9 {
		d.Mentry = d.Entry + 1
	} else {
		d.Gen, d.Mentry, d.Mgen = dec.u32(), dec.u32(), dec.u32()
	}
	d.Qid = uint64(dec.u32())<<32 | uint64(dec.u32())
	if version == 7 {
		dec.bytes(ScoreSize)
	}
	d.Uid, d.Gid, d.Mid = dec.vstr(), dec.vstr(), dec.vstr()
	d.Mtime, d.Mcount, d.Ctime, d.Atime, d.Mode = dec.u32(), dec.u32(), dec.u32(), dec.u32(), dec.u32()
	// Optional fields: type[1] size[2] data.
	for !dec.err && len(dec.b) > 0 {
		t := dec.u8()
		n := binary.BigEndian.Uint16(append(dec.bytes(2), 0, 0))
		p := dec.bytes(int(n))
		if t == dirQidSpaceEntry && len(p) == 16 {
			d.QidSpace = true
			d.QidOffset = binary.BigEndian.Uint64(p)
			d.QidMax = binary.BigEndian.Uint64(p[8:])
		}
	}
	if dec.err {
		return d, bad
	}
	return d, nil
}

func (d *decoder) u32() uint32 {
	p := d.bytes(4)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint32(p)
}

// vstr reads a vac string: a 2-byte length and the bytes (no limit but
// the block's).
func (d *decoder) vstr() string {
	p := d.bytes(2)
	if p == nil {
		return ""
	}
	return string(d.bytes(int(binary.BigEndian.Uint16(p))))
}
