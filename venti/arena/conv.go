package arena

import (
	"encoding/binary"
	"fmt"

	"replfs/venti"
)

// Layout constants, named as in plan9port src/cmd/venti/srv/dat.h.
const (
	ArenaPartMagic = 0xa9e4a5e7
	ArenaMagic     = 0xf2a14ead // the arena trailer
	ArenaHeadMagic = 0xd15c4ead
	ClumpMagic4    = 0xd15cb10c // the fixed clump magic of version 4 arenas
	ClumpFreeMagic = 0          // ends the clump log

	ArenaPartVersion = 3
	ArenaVersion4    = 4
	ArenaVersion5    = 5

	PartBlank     = 256 * 1024 // untouched space at the start of a partition
	HeadSize      = 512        // the ArenaPart header block
	ANameSize     = 64
	MinArenaSize  = 1 << 20
	MaxAMap       = 31 * 1024 // most arenas in one map
	MaxDiskBlock  = 64 * 1024
	ClumpInfoSize = 25
	ClumpSize     = 38 // a clump header

	arenaPartSize  = 16
	arenaSize4     = 2*8 + 6*4 + ANameSize + 1 // trailer of a version 4 arena
	arenaSize5     = arenaSize4 + 4
	arenaExtSize   = 2*1 + 2*4 + 2*8 // the memstats extension
	arenaHeadSize4 = 8 + 3*4 + ANameSize
	arenaHeadSize5 = arenaHeadSize4 + 4
)

// Clump encodings.
const (
	EncodingNone     = 1
	EncodingCompress = 2 // whack
)

// Stats are an arena's counts: the clumps written (memstats) or those
// plan9port has indexed (diskstats).
type Stats struct {
	Clumps  uint32 // clumps in the log
	CClumps uint32 // of which compressed
	Used    uint64 // bytes of clump log, headers included
	Uncsize uint64 // sum of the blocks' uncompressed sizes
	Sealed  bool
}

// partHeader is the ArenaPart header at PartBlank.
// Layout as plan9port src/cmd/venti/srv/conv.c unpackarenapart.
type partHeader struct {
	version   uint32
	blockSize uint32
	arenaBase uint32
}

func unpackArenaPart(b []byte) (partHeader, error) {
	var h partHeader
	if len(b) < arenaPartSize {
		return h, fmt.Errorf("%w: short arena partition header", venti.ErrCorrupt)
	}
	if m := be32(b); m != ArenaPartMagic {
		return h, fmt.Errorf("%w: arena set has wrong magic number: %#x", venti.ErrCorrupt, m)
	}
	h.version = be32(b[4:])
	h.blockSize = be32(b[8:])
	h.arenaBase = be32(b[12:])
	return h, nil
}

func packArenaPart(h partHeader, b []byte) {
	put32(b, ArenaPartMagic)
	put32(b[4:], h.version)
	put32(b[8:], h.blockSize)
	put32(b[12:], h.arenaBase)
}

// arenaHead is the block at the start of an arena.
// Layout as conv.c unpackarenahead.
type arenaHead struct {
	version    uint32
	name       string
	blockSize  uint32
	size       uint64 // the whole arena, head and trailer included
	clumpMagic uint32
}

func unpackArenaHead(b []byte) (arenaHead, error) {
	var h arenaHead
	if len(b) < arenaHeadSize5 {
		return h, fmt.Errorf("%w: short arena head", venti.ErrCorrupt)
	}
	if m := be32(b); m != ArenaHeadMagic {
		return h, fmt.Errorf("%w: arena head has wrong magic number: %#x", venti.ErrCorrupt, m)
	}
	h.version = be32(b[4:])
	name, err := unpackName(b[8:])
	if err != nil {
		return h, err
	}
	h.name = name
	p := b[8+ANameSize:]
	h.blockSize = be32(p)
	h.size = be64(p[4:])
	switch h.version {
	case ArenaVersion4:
		h.clumpMagic = ClumpMagic4
	case ArenaVersion5:
		h.clumpMagic = be32(p[12:])
	default:
		return h, fmt.Errorf("%w: arena head has unexpected version %d", venti.ErrCorrupt, h.version)
	}
	return h, nil
}

func packArenaHead(h arenaHead, b []byte) {
	put32(b, ArenaHeadMagic)
	put32(b[4:], h.version)
	packName(b[8:], h.name)
	p := b[8+ANameSize:]
	put32(p, h.blockSize)
	put64(p[4:], h.size)
	if h.version == ArenaVersion5 {
		put32(p[12:], h.clumpMagic)
	}
}

// trailer is the arena's last block, without the score in its last
// ScoreSize bytes. Layout as conv.c unpackarena and _packarena.
type trailer struct {
	version    uint32
	name       string
	ctime      uint32
	wtime      uint32
	clumpMagic uint32
	disk, mem  Stats
}

// trailerSize is the packed size with the extension, which packArena
// always writes (zeros when memstats equals diskstats).
func trailerSize(version uint32) int {
	if version == ArenaVersion4 {
		return arenaSize4 + arenaExtSize
	}
	return arenaSize5 + arenaExtSize
}

func unpackArena(b []byte) (trailer, error) {
	var t trailer
	if len(b) < arenaSize5+arenaExtSize {
		return t, fmt.Errorf("%w: short arena trailer", venti.ErrCorrupt)
	}
	if m := be32(b); m != ArenaMagic {
		return t, fmt.Errorf("%w: arena has wrong magic number: %#x", venti.ErrCorrupt, m)
	}
	t.version = be32(b[4:])
	if t.version != ArenaVersion4 && t.version != ArenaVersion5 {
		return t, fmt.Errorf("%w: arena has bad version number %d", venti.ErrCorrupt, t.version)
	}
	name, err := unpackName(b[8:])
	if err != nil {
		return t, err
	}
	t.name = name
	p := b[8+ANameSize:]
	t.disk.Clumps = be32(p)
	t.disk.CClumps = be32(p[4:])
	t.ctime = be32(p[8:])
	t.wtime = be32(p[12:])
	p = p[16:]
	if t.version == ArenaVersion5 {
		t.clumpMagic = be32(p)
		p = p[4:]
	} else {
		t.clumpMagic = ClumpMagic4
	}
	t.disk.Used = be64(p)
	t.disk.Uncsize = be64(p[8:])
	t.disk.Sealed = p[16] != 0
	p = p[17:]
	if p[0] == 1 {
		t.mem.Clumps = be32(p[1:])
		t.mem.CClumps = be32(p[5:])
		t.mem.Used = be64(p[9:])
		t.mem.Uncsize = be64(p[17:])
		t.mem.Sealed = p[25] != 0
		// 2008/4/2: plan9port's packarena once left stale extension
		// fields behind, so a sealed arena could read back with
		// memstats unsealed. Trust diskstats' seal, as venti does.
		if t.disk.Sealed {
			t.mem.Sealed = true
		}
	} else {
		t.mem = t.disk
	}
	return t, nil
}

// packArena packs t into b, which must hold trailerSize bytes. The
// extension is written only when memstats differs from diskstats, and
// zeroed otherwise, as plan9port does.
func packArena(t trailer, b []byte) {
	put32(b, ArenaMagic)
	put32(b[4:], t.version)
	packName(b[8:], t.name)
	p := b[8+ANameSize:]
	put32(p, t.disk.Clumps)
	put32(p[4:], t.disk.CClumps)
	put32(p[8:], t.ctime)
	put32(p[12:], t.wtime)
	p = p[16:]
	if t.version == ArenaVersion5 {
		put32(p, t.clumpMagic)
		p = p[4:]
	}
	put64(p, t.disk.Used)
	put64(p[8:], t.disk.Uncsize)
	p[16] = b2u(t.disk.Sealed)
	p = p[17:]
	clear(p[:arenaExtSize])
	if t.mem != t.disk {
		p[0] = 1
		put32(p[1:], t.mem.Clumps)
		put32(p[5:], t.mem.CClumps)
		put64(p[9:], t.mem.Used)
		put64(p[17:], t.mem.Uncsize)
		p[25] = b2u(t.mem.Sealed)
	}
}

// clumpHeader is the header before each block in the clump log.
// Layout as conv.c unpackclump.
type clumpHeader struct {
	dtype    uint8 // disk type; see Type
	size     uint16
	uncsize  uint16
	score    venti.Score
	encoding uint8
	creator  uint32
	time     uint32
}

// Type returns the header's block type in memory numbering, CorruptType
// for a clump marked corrupt or of no valid type.
func (h clumpHeader) Type() venti.Type { return venti.FromDiskType(h.dtype) }

func unpackClump(b []byte, magic uint32) (clumpHeader, error) {
	var h clumpHeader
	if len(b) < ClumpSize {
		return h, fmt.Errorf("%w: short clump header", venti.ErrCorrupt)
	}
	if m := be32(b); m != magic {
		return h, fmt.Errorf("%w: clump has bad magic number %#08x != %#08x", venti.ErrCorrupt, m, magic)
	}
	h.dtype = b[4]
	h.size = be16(b[5:])
	h.uncsize = be16(b[7:])
	copy(h.score[:], b[9:29])
	h.encoding = b[29]
	h.creator = be32(b[30:])
	h.time = be32(b[34:])
	return h, checkClump(h)
}

// checkClump applies conv.c checkclump's rules on sizes and encoding.
func checkClump(h clumpHeader) error {
	switch h.encoding {
	case EncodingNone:
		if h.size != h.uncsize {
			return fmt.Errorf("%w: uncompressed wad size mismatch", venti.ErrCorrupt)
		}
	case EncodingCompress:
		if h.size >= h.uncsize {
			return fmt.Errorf("%w: compressed lump has inconsistent block sizes %d %d", venti.ErrCorrupt, h.size, h.uncsize)
		}
	default:
		return fmt.Errorf("%w: clump has illegal encoding %d", venti.ErrCorrupt, h.encoding)
	}
	return nil
}

func packClump(h clumpHeader, b []byte, magic uint32) {
	put32(b, magic)
	b[4] = h.dtype
	put16(b[5:], h.size)
	put16(b[7:], h.uncsize)
	copy(b[9:29], h.score[:])
	b[29] = h.encoding
	put32(b[30:], h.creator)
	put32(b[34:], h.time)
}

// ClumpInfo is a clump's entry in the arena's directory.
// Layout as conv.c unpackclumpinfo.
type ClumpInfo struct {
	DiskType uint8 // the type as stored; Type() decodes it
	Size     uint16
	Uncsize  uint16
	Score    venti.Score
}

// Type returns the entry's block type in memory numbering.
func (ci ClumpInfo) Type() venti.Type { return venti.FromDiskType(ci.DiskType) }

func unpackClumpInfo(b []byte) ClumpInfo {
	var ci ClumpInfo
	ci.DiskType = b[0]
	ci.Size = be16(b[1:])
	ci.Uncsize = be16(b[3:])
	copy(ci.Score[:], b[5:25])
	return ci
}

func packClumpInfo(ci ClumpInfo, b []byte) {
	b[0] = ci.DiskType
	put16(b[1:], ci.Size)
	put16(b[3:], ci.Uncsize)
	copy(b[5:25], ci.Score[:])
}

// unpackName reads a NUL-padded name, which must be printable ASCII
// (utils.c nameok).
func unpackName(b []byte) (string, error) {
	n := 0
	for n < ANameSize-1 && b[n] != 0 {
		n++
	}
	if err := nameOK(string(b[:n])); err != nil {
		return "", err
	}
	return string(b[:n]), nil
}

func packName(b []byte, name string) {
	clear(b[:ANameSize])
	copy(b[:ANameSize-1], name)
}

// nameOK applies plan9port's rules for arena names: printable ASCII,
// shorter than ANameSize.
func nameOK(name string) error {
	if len(name) >= ANameSize {
		return fmt.Errorf("%w: arena name too long", venti.ErrCorrupt)
	}
	for i := 0; i < len(name); i++ {
		if name[i] < ' ' || name[i] >= 0x7f {
			return fmt.Errorf("%w: bad arena name %q", venti.ErrCorrupt, name)
		}
	}
	return nil
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func be16(b []byte) uint16     { return binary.BigEndian.Uint16(b) }
func be32(b []byte) uint32     { return binary.BigEndian.Uint32(b) }
func be64(b []byte) uint64     { return binary.BigEndian.Uint64(b) }
func put16(b []byte, v uint16) { binary.BigEndian.PutUint16(b, v) }
func put32(b []byte, v uint32) { binary.BigEndian.PutUint32(b, v) }
func put64(b []byte, v uint64) { binary.BigEndian.PutUint64(b, v) }
