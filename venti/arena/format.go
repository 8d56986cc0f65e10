package arena

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
)

// FormatOptions are fmtarenas' settings. Zero values take plan9port's
// defaults.
type FormatOptions struct {
	ArenaSize  int64  // bytes per arena; default DefaultArenaSize of the partition's
	BlockSize  int    // default 8192; a power of two up to 64 KiB
	NamePrefix string // arena names are prefix+N; default "arenas0"
	TabSize    int    // space for the arena map; default 512 KiB
	Version    int    // arena version, 4 or 5; default 5
}

// DefaultArenaSize is the arena size replfs formats a partition of
// size bytes with when none is given: plan9port's 512 MiB, or 64 MiB
// on a partition under 4 GiB, so a small one still has several arenas
// and seals them (a sealed arena is copied once and never read again).
func DefaultArenaSize(size int64) int64 {
	if size < 4<<30 {
		return 64 << 20
	}
	return 512 << 20
}

func (o *FormatOptions) defaults() {
	if o.BlockSize == 0 {
		o.BlockSize = 8192
	}
	if o.NamePrefix == "" {
		o.NamePrefix = "arenas0"
	}
	if o.TabSize == 0 {
		o.TabSize = 512 << 10
	}
	if o.Version == 0 {
		o.Version = ArenaVersion5
	}
}

// Format writes an empty arena partition over the file at path, as
// plan9port's fmtarenas does: the ArenaPart header, the arena map, and
// each arena's head, trailer and first log block (version 5 arenas get
// random clump magic, so the rest need not be zeroed). It returns the
// arena map.
func Format(path string, opts FormatOptions) ([]MapEntry, error) {
	opts.defaults()
	bs := int64(opts.BlockSize)
	if bs < 512 || bs > MaxDiskBlock || bs&(bs-1) != 0 {
		return nil, fmt.Errorf("fmtarenas %s: bad block size %d", path, bs)
	}
	if opts.Version != ArenaVersion4 && opts.Version != ArenaVersion5 {
		return nil, fmt.Errorf("fmtarenas %s: bad arena version %d", path, opts.Version)
	}
	if opts.ArenaSize != 0 && (opts.ArenaSize < MinArenaSize || opts.ArenaSize%bs != 0) {
		return nil, fmt.Errorf("fmtarenas %s: arena size %d not a multiple of %d of at least %d", path, opts.ArenaSize, bs, MinArenaSize)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("fmtarenas: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("fmtarenas: %w", err)
	}
	size := st.Size() &^ (bs - 1)
	if opts.ArenaSize == 0 {
		opts.ArenaSize = DefaultArenaSize(size)
	}
	tabBase := (PartBlank + HeadSize + bs - 1) &^ (bs - 1)
	arenaBase := (tabBase + int64(opts.TabSize) + bs - 1) &^ (bs - 1)
	if arenaBase+MinArenaSize > size {
		return nil, fmt.Errorf("fmtarenas %s: partition of %d bytes too small", path, st.Size())
	}
	var m []MapEntry
	for addr := arenaBase; size-addr >= MinArenaSize; {
		limit := addr + opts.ArenaSize
		if limit >= size || size-limit < MinArenaSize {
			limit = size
		}
		name := fmt.Sprintf("%s%d", opts.NamePrefix, len(m))
		if err := nameOK(name); err != nil {
			return nil, fmt.Errorf("fmtarenas %s: illegal name template %q", path, opts.NamePrefix)
		}
		m = append(m, MapEntry{name, addr, limit})
		addr = limit
	}
	if len(m) > MaxAMap {
		return nil, fmt.Errorf("fmtarenas %s: %d arenas, more than %d", path, len(m), MaxAMap)
	}
	tab := formatMap(m)
	if int64(len(tab)) > arenaBase-tabBase {
		return nil, fmt.Errorf("fmtarenas %s: arena set size too small", path)
	}
	if opts.Version == ArenaVersion4 {
		// Version 4 clump magic is fixed, so stale data could pass for
		// clumps: fmtarenas -4 zeroes the partition, and so do we.
		zero := make([]byte, 1<<20)
		for off := arenaBase; off < size; off += int64(len(zero)) {
			if _, err := f.WriteAt(zero[:min(int64(len(zero)), size-off)], off); err != nil {
				return nil, fmt.Errorf("fmtarenas %s: %w", path, err)
			}
		}
	}
	blk := make([]byte, bs)
	for _, e := range m {
		clear(blk)
		magic := uint32(ClumpMagic4)
		if opts.Version == ArenaVersion5 {
			magic = newClumpMagic()
		}
		packArena(trailer{version: uint32(opts.Version), name: e.Name, clumpMagic: magic}, blk)
		if _, err := f.WriteAt(blk, e.Stop-bs); err != nil {
			return nil, fmt.Errorf("fmtarenas %s: %w", path, err)
		}
		clear(blk)
		packArenaHead(arenaHead{uint32(opts.Version), e.Name, uint32(bs), uint64(e.Stop - e.Start), magic}, blk)
		if _, err := f.WriteAt(blk, e.Start); err != nil {
			return nil, fmt.Errorf("fmtarenas %s: %w", path, err)
		}
		// The log starts with ClumpFreeMagic.
		clear(blk)
		if _, err := f.WriteAt(blk, e.Start+bs); err != nil {
			return nil, fmt.Errorf("fmtarenas %s: %w", path, err)
		}
	}
	hb := make([]byte, HeadSize)
	packArenaPart(partHeader{ArenaPartVersion, uint32(bs), uint32(arenaBase)}, hb)
	if _, err := f.WriteAt(hb, PartBlank); err != nil {
		return nil, fmt.Errorf("fmtarenas %s: %w", path, err)
	}
	tb := make([]byte, arenaBase-tabBase)
	copy(tb, tab)
	if _, err := f.WriteAt(tb, tabBase); err != nil {
		return nil, fmt.Errorf("fmtarenas %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("fmtarenas %s: %w", path, err)
	}
	return m, nil
}

// newClumpMagic returns random clump magic, never 0 (ClumpFreeMagic) or
// the version 4 constant.
func newClumpMagic() uint32 {
	var b [4]byte
	for {
		rand.Read(b[:])
		if m := binary.BigEndian.Uint32(b[:]); m != 0 && m != ClumpMagic4 {
			return m
		}
	}
}
