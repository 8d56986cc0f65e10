package venti

import (
	"encoding/binary"
	"fmt"
)

// EntrySize is the size of a packed VtEntry.
const EntrySize = 40

// Entry flags (plan9port include/venti.h). The dir, depth and big bits
// are folded into Entry.Type, Psize and Dsize and are not kept in Flags.
const (
	EntryActive    = 0x01
	entryDir       = 0x02
	entryDepthMask = 0x1c
	entryDepthShft = 2
	EntryLocal     = 0x20 // fossil: the block is local, not in venti
	entryBig       = 0x40 // psize and dsize use the big encoding
	EntryNoArchive = 0x80
)

// An Entry describes a stream of blocks (a file, or a directory's list
// of entries): the block sizes, the tree's depth and type, the length
// and the score of its top block. Layout as plan9port
// src/libventi/entry.c:
//
//	gen[4] psize[2] dsize[2] flags[1] zero[5] size[6] score[20]
type Entry struct {
	Gen   uint32
	Psize int  // pointer block size
	Dsize int  // data block size
	Type  Type // DataType or DirType plus the depth
	Flags uint8
	Size  uint64 // bytes in the stream
	Score Score
}

// Active reports whether the entry is in use.
func (e Entry) Active() bool { return e.Flags&EntryActive != 0 }

// UnpackEntry decodes the entry in the first EntrySize bytes of b, as
// vtentryunpack does: an active entry must have block sizes of at least
// 256, except that an old vac's zero sizes with the zero score become
// 4096.
func UnpackEntry(b []byte) (Entry, error) {
	var e Entry
	if len(b) < EntrySize {
		return e, fmt.Errorf("%w: short entry", ErrCorrupt)
	}
	e.Gen = binary.BigEndian.Uint32(b)
	psize := int(binary.BigEndian.Uint16(b[4:]))
	dsize := int(binary.BigEndian.Uint16(b[6:]))
	flags := b[8]
	if flags&entryBig != 0 {
		psize = (psize >> 5) << (psize & 31)
		dsize = (dsize >> 5) << (dsize & 31)
	}
	e.Psize, e.Dsize = psize, dsize
	e.Type = DataType
	if flags&entryDir != 0 {
		e.Type = DirType
	}
	e.Type += Type(flags&entryDepthMask) >> entryDepthShft
	e.Flags = flags &^ (entryDir | entryDepthMask | entryBig)
	e.Size = uint64(binary.BigEndian.Uint16(b[14:]))<<32 | uint64(binary.BigEndian.Uint32(b[16:]))
	copy(e.Score[:], b[20:40])
	if !e.Active() {
		return e, nil
	}
	if e.Psize == 0 && e.Dsize == 0 && e.Score == ZeroScore {
		e.Psize, e.Dsize = 4096, 4096
	}
	if e.Psize < 256 || e.Dsize < 256 || e.Psize > 1<<30 || e.Dsize > 1<<30 {
		return e, fmt.Errorf("%w: entry has bad block sizes %d/%d", ErrCorrupt, e.Psize, e.Dsize)
	}
	return e, nil
}

// Pack encodes e into the first EntrySize bytes of b.
func (e Entry) Pack(b []byte) error {
	flags := e.Flags &^ (entryDir | entryDepthMask | entryBig)
	flags |= uint8(e.Type.Depth()) << entryDepthShft
	if e.Type >= DirType && e.Type < RootType {
		flags |= entryDir
	}
	psize, dsize := e.Psize, e.Dsize
	if psize >= 1<<16 || dsize >= 1<<16 {
		flags |= entryBig
		var ok1, ok2 bool
		psize, ok1 = toBig(psize)
		dsize, ok2 = toBig(dsize)
		if !ok1 || !ok2 {
			return fmt.Errorf("invalid entry psize/dsize: %d/%d", e.Psize, e.Dsize)
		}
	}
	if e.Size >= 1<<48 {
		return fmt.Errorf("entry size %d too large", e.Size)
	}
	binary.BigEndian.PutUint32(b, e.Gen)
	binary.BigEndian.PutUint16(b[4:], uint16(psize))
	binary.BigEndian.PutUint16(b[6:], uint16(dsize))
	b[8] = flags
	clear(b[9:14])
	binary.BigEndian.PutUint16(b[14:], uint16(e.Size>>32))
	binary.BigEndian.PutUint32(b[16:], uint32(e.Size))
	copy(b[20:40], e.Score[:])
	return nil
}

// toBig converts n to the big encoding (n>>5)<<(n&31), exactly or not
// at all (vttobig).
func toBig(n int) (int, bool) {
	shift := 0
	for n >= 1<<(16-5) {
		if n&1 != 0 {
			return 0, false
		}
		shift++
		n >>= 1
	}
	return n<<5 | shift, true
}

// A Root is the block that names a tree: a vac archive, a fossil
// snapshot. Layout as plan9port src/libventi/root.c:
//
//	version[2] name[128] type[128] score[20] blocksize[2] prev[20]
type Root struct {
	Name      string
	Type      string // "vac" for vac archives and fossil snapshots
	Score     Score  // a DirType block of entries
	BlockSize int
	Prev      Score // the previous root, or zero
}

const (
	rootVersion    = 2
	rootVersionBig = 1 << 15
)

// UnpackRoot decodes a root block, which must be RootSize bytes.
func UnpackRoot(b []byte) (Root, error) {
	var r Root
	if len(b) != RootSize {
		return r, fmt.Errorf("%w: root block of %d bytes", ErrCorrupt, len(b))
	}
	vers := binary.BigEndian.Uint16(b)
	if vers&^rootVersionBig != rootVersion {
		return r, fmt.Errorf("%w: unknown root version %d", ErrCorrupt, vers)
	}
	r.Name = cstring(b[2:129])
	r.Type = cstring(b[130:257])
	copy(r.Score[:], b[258:278])
	bs := int(binary.BigEndian.Uint16(b[278:]))
	if vers&rootVersionBig != 0 {
		bs = (bs >> 5) << (bs & 31)
	}
	if bs < 256 || bs > 1<<30 {
		return r, fmt.Errorf("%w: bad block size %d in root", ErrCorrupt, bs)
	}
	r.BlockSize = bs
	copy(r.Prev[:], b[280:300])
	return r, nil
}

// Pack returns the root as a RootSize block.
func (r Root) Pack() ([]byte, error) {
	b := make([]byte, RootSize)
	vers := uint16(rootVersion)
	bs := r.BlockSize
	if bs >= 1<<16 {
		vers |= rootVersionBig
		var ok bool
		if bs, ok = toBig(bs); !ok {
			return nil, fmt.Errorf("invalid root blocksize %d", r.BlockSize)
		}
	}
	if len(r.Name) > 127 || len(r.Type) > 127 {
		return nil, fmt.Errorf("root name or type too long")
	}
	binary.BigEndian.PutUint16(b, vers)
	copy(b[2:], r.Name)
	copy(b[130:], r.Type)
	copy(b[258:], r.Score[:])
	binary.BigEndian.PutUint16(b[278:], uint16(bs))
	copy(b[280:], r.Prev[:])
	return b, nil
}

// cstring returns b up to its first NUL.
func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
