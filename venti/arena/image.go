package arena

import (
	"fmt"
	"io"
	"os"

	"replfs/venti"
)

// This file is what a copy of arenas kept elsewhere (an object store)
// needs from the format: an arena read from any io.ReaderAt, the bytes
// of an arena as far as a copy has reached, and a partition laid out
// for arenas copied back.

// OpenImage opens the arena whose bytes, head block first, r holds in
// [0, size): an rdarena image, or an arena kept as an object.
func OpenImage(name string, r io.ReaderAt, size int64) (*Arena, error) {
	f := &file{name: name, r: r, size: size}
	b := make([]byte, arenaHeadSize5)
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, fmt.Errorf("arena image %s: read head: %w", name, err)
	}
	h, err := unpackArenaHead(b)
	if err == nil && (h.blockSize < 512 || h.blockSize > MaxDiskBlock || h.blockSize&(h.blockSize-1) != 0) {
		err = fmt.Errorf("%w: bad block size %d", venti.ErrCorrupt, h.blockSize)
	}
	if err == nil && int64(h.size) != size {
		err = fmt.Errorf("%w: arena of %d bytes in an image of %d", venti.ErrCorrupt, h.size, size)
	}
	if err != nil {
		return nil, fmt.Errorf("arena image %s: %w", name, err)
	}
	return loadArena(f, h.name, 0, size, int(h.blockSize))
}

// ReadAt reads the arena's own bytes: offset 0 is its head block.
func (a *Arena) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(b)) > a.Stop-a.Start {
		return 0, a.errorf("%w: read %#x+%d outside arena", errOutside, off, len(b))
	}
	return a.f.ReadAt(b, a.Start+off)
}

// Geometry is what identifies an arena and fixes its layout.
type Geometry struct {
	Name       string
	Version    int
	BlockSize  int
	Size       int64 // the whole arena, head and trailer included
	ClumpMagic uint32
	Ctime      uint32
	Wtime      uint32
}

// Geometry returns a's.
func (a *Arena) Geometry() Geometry {
	return Geometry{a.Name, a.Version, a.BlockSize, a.Stop - a.Start, a.ClumpMagic, a.Ctime, a.Wtime}
}

// Check reports whether g could be an arena's (a hostile copy may say
// anything).
func (g Geometry) Check() error {
	bs := int64(g.BlockSize)
	switch {
	case g.Name == "" || nameOK(g.Name) != nil:
		return fmt.Errorf("bad arena name %q", g.Name)
	case g.Version != ArenaVersion4 && g.Version != ArenaVersion5:
		return fmt.Errorf("arena %s: bad version %d", g.Name, g.Version)
	case bs < 512 || bs > MaxDiskBlock || bs&(bs-1) != 0:
		return fmt.Errorf("arena %s: bad block size %d", g.Name, bs)
	case g.Size < 3*bs || g.Size%bs != 0 || g.Size > 1<<40:
		return fmt.Errorf("arena %s: bad size %d", g.Name, g.Size)
	case g.Version == ArenaVersion4 && g.ClumpMagic != ClumpMagic4:
		return fmt.Errorf("arena %s: bad clump magic %#x", g.Name, g.ClumpMagic)
	}
	return nil
}

// dataSize is the bytes the log and directory share.
func (g Geometry) dataSize() int64 { return g.Size - 2*int64(g.BlockSize) }

// DirSize returns the bytes the directory of n clumps takes.
func (g Geometry) DirSize(n uint32) int64 {
	return (int64(n)/int64(g.BlockSize/ClumpInfoSize) + 1) * int64(g.BlockSize)
}

// Head returns the arena's head block.
func (g Geometry) Head() []byte {
	b := make([]byte, g.BlockSize)
	packArenaHead(arenaHead{uint32(g.Version), g.Name, uint32(g.BlockSize), uint64(g.Size), g.ClumpMagic}, b)
	return b
}

// Tail returns the directory blocks and trailer of the arena holding
// exactly the clumps dir lists, unsealed, with diskstats equal to
// memstats (as venti leaves an arena it has indexed): the arena's bytes
// from g.Size-len(tail) to its end. The log's length is the sum of the
// clumps' sizes and headers.
func (g Geometry) Tail(dir []ClumpInfo) ([]byte, error) {
	n := uint32(len(dir))
	if int64(len(dir)) != int64(n) {
		return nil, fmt.Errorf("arena %s: too many clumps", g.Name)
	}
	var st Stats
	st.Clumps = n
	for _, ci := range dir {
		st.Used += ClumpSize + uint64(ci.Size)
		st.Uncsize += uint64(ci.Uncsize)
		if ci.Size != ci.Uncsize {
			st.CClumps++
		}
	}
	ds := g.DirSize(n)
	if int64(st.Used)+ds > g.dataSize() {
		return nil, fmt.Errorf("arena %s: %w: %d clumps of %d bytes overflow the arena", g.Name, venti.ErrCorrupt, n, st.Used)
	}
	bs := int64(g.BlockSize)
	tail := make([]byte, ds+bs)
	cm := uint32(g.BlockSize / ClumpInfoSize)
	k1 := n / cm // the last directory block, lowest in the arena
	for i, ci := range dir {
		c := uint32(i)
		off := int64(k1-c/cm)*bs + int64(c%cm)*ClumpInfoSize
		packClumpInfo(ci, tail[off:off+ClumpInfoSize])
	}
	t := trailer{version: uint32(g.Version), name: g.Name, ctime: g.Ctime, wtime: g.Wtime, clumpMagic: g.ClumpMagic, disk: st, mem: st}
	packArena(t, tail[ds:])
	return tail, nil
}

// LogEnd returns the log offset just past the clumps dir lists.
func LogEnd(dir []ClumpInfo) int64 {
	var n int64
	for _, ci := range dir {
		n += ClumpSize + int64(ci.Size)
	}
	return n
}

// MarshalDir packs directory entries, ClumpInfoSize bytes each, in order.
func MarshalDir(dir []ClumpInfo) []byte {
	b := make([]byte, len(dir)*ClumpInfoSize)
	for i, ci := range dir {
		packClumpInfo(ci, b[i*ClumpInfoSize:])
	}
	return b
}

// UnmarshalDir unpacks MarshalDir's bytes.
func UnmarshalDir(b []byte) ([]ClumpInfo, error) {
	if len(b)%ClumpInfoSize != 0 {
		return nil, fmt.Errorf("%w: directory of %d bytes", venti.ErrCorrupt, len(b))
	}
	dir := make([]ClumpInfo, len(b)/ClumpInfoSize)
	for i := range dir {
		dir[i] = unpackClumpInfo(b[i*ClumpInfoSize:])
	}
	return dir, nil
}

// CreatePartition makes a new arena partition file at path laid out as
// fmtarenas lays one out (header, map, then the arenas one after
// another) for arenas of the geometries given, in order, and returns
// its map. The arenas' bytes are the caller's to write, each at its
// entry's Start. The file must not exist.
func CreatePartition(path string, blockSize int, arenas []Geometry) ([]MapEntry, error) {
	bs := int64(blockSize)
	if bs < 512 || bs > MaxDiskBlock || bs&(bs-1) != 0 {
		return nil, fmt.Errorf("bad block size %d", bs)
	}
	if len(arenas) == 0 || len(arenas) > MaxAMap {
		return nil, fmt.Errorf("%d arenas: need 1 to %d", len(arenas), MaxAMap)
	}
	tabBase := (PartBlank + HeadSize + bs - 1) &^ (bs - 1)
	arenaBase := (tabBase + 512<<10 + bs - 1) &^ (bs - 1)
	var m []MapEntry
	addr := arenaBase
	for _, g := range arenas {
		if err := g.Check(); err != nil {
			return nil, err
		}
		if g.BlockSize != blockSize {
			return nil, fmt.Errorf("arena %s: block size %d in a partition of %d", g.Name, g.BlockSize, blockSize)
		}
		m = append(m, MapEntry{g.Name, addr, addr + g.Size})
		addr += g.Size
	}
	if err := checkMap(m, arenaBase, addr); err != nil {
		return nil, err
	}
	tab := formatMap(m)
	if int64(len(tab)) > arenaBase-tabBase {
		return nil, fmt.Errorf("arena map of %d bytes does not fit", len(tab))
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := f.Truncate(addr); err != nil {
		return nil, err
	}
	hb := make([]byte, HeadSize)
	packArenaPart(partHeader{ArenaPartVersion, uint32(bs), uint32(arenaBase)}, hb)
	if _, err := f.WriteAt(hb, PartBlank); err != nil {
		return nil, err
	}
	if _, err := f.WriteAt(tab, tabBase); err != nil {
		return nil, err
	}
	return m, f.Sync()
}
