package arena

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"replfs/venti"
)

// A Partition is an arena partition: the ArenaPart header at PartBlank,
// the text arena map after it, and the arenas.
type Partition struct {
	f         *file
	BlockSize int
	TabBase   int64 // the arena map
	TabSize   int64
	ArenaBase int64 // where arenas may start
	Size      int64 // the usable size, whole blocks
	Arenas    []*Arena
}

// A MapEntry is one line of the arena map.
type MapEntry struct {
	Name        string
	Start, Stop int64
}

// OpenPartition opens an arena partition read-only: a file, a device, or
// a byte range of one ("file:lo-hi"). It may be opened while a venti
// server writes it; Arena.Refresh rereads what has changed.
func OpenPartition(name string) (*Partition, error) {
	return openPartition(name, false)
}

func openPartition(name string, write bool) (*Partition, error) {
	f, err := openFile(name, write)
	if err != nil {
		return nil, err
	}
	p, err := readPartition(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("arena partition %s: %w", name, err)
	}
	return p, nil
}

// Name returns the name the partition was opened by.
func (p *Partition) Name() string { return p.f.name }

// Close closes the partition's file.
func (p *Partition) Close() error { return p.f.Close() }

// Map returns the arena map as stored.
func (p *Partition) Map() []MapEntry {
	m := make([]MapEntry, len(p.Arenas))
	for i, a := range p.Arenas {
		m[i] = MapEntry{a.Name, a.Start, a.Stop}
	}
	return m
}

// Arena returns the arena with the given name, or nil.
func (p *Partition) Arena(name string) *Arena {
	for _, a := range p.Arenas {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// readPartition reads the header, map and arenas (arenas.c initarenapart).
func readPartition(f *file) (*Partition, error) {
	if f.size < PartBlank+HeadSize {
		return nil, fmt.Errorf("%w: partition too small", venti.ErrCorrupt)
	}
	b := make([]byte, HeadSize)
	if _, err := f.ReadAt(b, PartBlank); err != nil {
		return nil, fmt.Errorf("can't read arena partition header: %w", err)
	}
	h, err := unpackArenaPart(b)
	if err != nil {
		return nil, err
	}
	if h.version != ArenaPartVersion {
		return nil, fmt.Errorf("%w: unknown arena partition version %d", venti.ErrCorrupt, h.version)
	}
	bs := int64(h.blockSize)
	if bs < 512 || bs > MaxDiskBlock || bs&(bs-1) != 0 {
		return nil, fmt.Errorf("%w: illegal block size %d", venti.ErrCorrupt, bs)
	}
	p := &Partition{f: f, BlockSize: int(bs)}
	p.TabBase = (PartBlank + HeadSize + bs - 1) &^ (bs - 1)
	p.ArenaBase = int64(h.arenaBase)
	if p.TabBase >= p.ArenaBase {
		return nil, fmt.Errorf("%w: arena partition table overlaps with arena storage", venti.ErrCorrupt)
	}
	p.TabSize = p.ArenaBase - p.TabBase
	p.Size = f.size &^ (bs - 1)
	if p.ArenaBase > p.Size || p.TabSize > 64<<20 {
		return nil, fmt.Errorf("%w: arena base %d past partition end", venti.ErrCorrupt, p.ArenaBase)
	}
	tab := make([]byte, p.TabSize)
	if _, err := f.ReadAt(tab, p.TabBase); err != nil {
		return nil, fmt.Errorf("can't read arena map: %w", err)
	}
	m, err := parseMap(tab)
	if err != nil {
		return nil, err
	}
	if err := checkMap(m, p.ArenaBase, p.Size); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, e := range m {
		if seen[e.Name] {
			return nil, fmt.Errorf("%w: duplicate arena name %s", venti.ErrCorrupt, e.Name)
		}
		seen[e.Name] = true
		a, err := loadArena(f, e.Name, e.Start, e.Stop, p.BlockSize)
		if err != nil {
			return nil, err
		}
		p.Arenas = append(p.Arenas, a)
	}
	return p, nil
}

// parseMap parses the text arena map (arenas.c parseamap): a count,
// then "name\tstart\tstop" lines. Blank lines and # comments are
// skipped, as venti's ifile reader does; the text ends at the first NUL.
func parseMap(tab []byte) ([]MapEntry, error) {
	if i := bytes.IndexByte(tab, 0); i >= 0 {
		tab = tab[:i]
	}
	var lines []string
	for _, l := range strings.Split(string(tab), "\n") {
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		if strings.TrimLeft(l, " \t\r") != "" {
			lines = append(lines, strings.TrimLeft(l, " \t\r"))
		}
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("%w: syntax error: bad number of elements in arena map", venti.ErrCorrupt)
	}
	n, err := strconv.ParseUint(lines[0], 10, 32)
	if err != nil {
		return nil, fmt.Errorf("%w: syntax error: bad number of elements in arena map", venti.ErrCorrupt)
	}
	if n > MaxAMap {
		return nil, fmt.Errorf("%w: illegal number of elements %d in arena map", venti.ErrCorrupt, n)
	}
	if int(n) > len(lines)-1 {
		return nil, fmt.Errorf("%w: early eof after %d of %d arena map entries", venti.ErrCorrupt, len(lines)-1, n)
	}
	m := make([]MapEntry, n)
	for i := range m {
		f := strings.Split(lines[i+1], "\t")
		if len(f) != 3 {
			return nil, fmt.Errorf("%w: bad arena map line %q", venti.ErrCorrupt, lines[i+1])
		}
		if err := nameOK(f[0]); err != nil {
			return nil, err
		}
		start, err1 := strconv.ParseUint(f[1], 10, 63)
		stop, err2 := strconv.ParseUint(f[2], 10, 63)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%w: syntax error: bad arena address in %q", venti.ErrCorrupt, lines[i+1])
		}
		m[i] = MapEntry{f[0], int64(start), int64(stop)}
	}
	return m, nil
}

// formatMap renders the map as arenas.c outputamap does.
func formatMap(m []MapEntry) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d\n", len(m))
	for _, e := range m {
		fmt.Fprintf(&b, "%s\t%d\t%d\n", e.Name, e.Start, e.Stop)
	}
	return b.Bytes()
}

// checkMap applies arenas.c okamap: sorted, not overlapping, inside
// [start, stop).
func checkMap(m []MapEntry, start, stop int64) error {
	last := start
	for i, e := range m {
		if e.Start < last {
			if i == 0 {
				return fmt.Errorf("%w: invalid start address in arena table", venti.ErrCorrupt)
			}
			return fmt.Errorf("%w: overlapping ranges in arena table", venti.ErrCorrupt)
		}
		if e.Stop < e.Start {
			return fmt.Errorf("%w: invalid range in arena table", venti.ErrCorrupt)
		}
		last = e.Stop
	}
	if last > stop {
		return fmt.Errorf("%w: invalid ending address in arena table", venti.ErrCorrupt)
	}
	return nil
}
