package arena

import (
	"crypto/sha1"
	"fmt"
	"io"

	"replfs/venti"
)

// An Arena is one arena of a partition as read from its head and
// trailer. Its clump log starts one block after Start ("base" in
// plan9port) and its directory grows down from the trailer.
type Arena struct {
	f          *file
	Name       string
	Start      int64 // partition offset of the head block (the map's start)
	Stop       int64 // partition offset just past the trailer
	BlockSize  int
	Version    int
	ClumpMagic uint32
	Ctime      uint32 // first write, Unix seconds
	Wtime      uint32 // last write
	Disk       Stats  // what plan9port has indexed ("indexed" on /index)
	Mem        Stats  // what the log holds ("written")
	Score      venti.Score
	// HeadErr says how the head block disagrees with the trailer, if it
	// does. plan9port only logs this; so do we.
	HeadErr error
}

// Base returns the partition offset of the clump log.
func (a *Arena) Base() int64 { return a.Start + int64(a.BlockSize) }

// DataSize returns the bytes between head and trailer: the log and the
// directory share them.
func (a *Arena) DataSize() int64 { return a.Stop - a.Start - 2*int64(a.BlockSize) }

// clumpMax is the number of directory entries per block.
func (a *Arena) clumpMax() int { return a.BlockSize / ClumpInfoSize }

// dirSize returns the bytes the directory of n clumps takes: at least
// one block (arena.c arenadirsize).
func (a *Arena) dirSize(n uint32) int64 {
	return (int64(n)/int64(a.clumpMax()) + 1) * int64(a.BlockSize)
}

// trailerOffset returns the partition offset of the trailer block.
func (a *Arena) trailerOffset() int64 { return a.Stop - int64(a.BlockSize) }

func (a *Arena) errorf(format string, args ...any) error {
	return fmt.Errorf("arena %s: "+format, append([]any{a.Name}, args...)...)
}

// loadArena reads the arena [start, stop) of f: trailer, then head.
func loadArena(f *file, name string, start, stop int64, blockSize int) (*Arena, error) {
	a := &Arena{f: f, Name: name, Start: start, Stop: stop, BlockSize: blockSize}
	if name == "" {
		a.Name = fmt.Sprintf("at %#x", start)
	}
	if stop-start < 3*int64(blockSize) || stop > f.size || start < 0 {
		return nil, a.errorf("%w: bad range [%d,%d)", venti.ErrCorrupt, start, stop)
	}
	if err := a.readTrailer(); err != nil {
		return nil, err
	}
	if name != "" && a.Name != name {
		return nil, fmt.Errorf("arena %s: %w: arena name mismatches with expected name: %s vs. %s",
			name, venti.ErrCorrupt, name, a.Name)
	}
	b := make([]byte, blockSize)
	if _, err := f.ReadAt(b, start); err != nil {
		a.HeadErr = fmt.Errorf("can't read arena header: %w", err)
		return a, nil
	}
	h, err := unpackArenaHead(b)
	switch {
	case err != nil:
		a.HeadErr = fmt.Errorf("corrupted arena header: %w", err)
	case h.name != a.Name:
		a.HeadErr = fmt.Errorf("arena tail name %s head %s", a.Name, h.name)
	case h.clumpMagic != a.ClumpMagic:
		a.HeadErr = fmt.Errorf("arena tail clumpmagic %#x head %#x", a.ClumpMagic, h.clumpMagic)
	case int(h.version) != a.Version:
		a.HeadErr = fmt.Errorf("arena tail version %d head version %d", a.Version, h.version)
	case int(h.blockSize) != a.BlockSize:
		a.HeadErr = fmt.Errorf("arena tail block size %d head %d", a.BlockSize, h.blockSize)
	case int64(h.size) != stop-start:
		a.HeadErr = fmt.Errorf("arena tail size %d head %d", stop-start, h.size)
	}
	return a, nil
}

// readTrailer (re)reads the trailer: stats, times and score.
func (a *Arena) readTrailer() error {
	b := make([]byte, a.BlockSize)
	if _, err := a.f.ReadAt(b, a.trailerOffset()); err != nil {
		return a.errorf("read trailer: %w", err)
	}
	t, err := unpackArena(b)
	if err != nil {
		return a.errorf("trailer at %#x: %w", a.trailerOffset(), err)
	}
	a.Name = t.name
	a.Version = int(t.version)
	a.ClumpMagic = t.clumpMagic
	a.Ctime, a.Wtime = t.ctime, t.wtime
	a.Disk, a.Mem = t.disk, t.mem
	copy(a.Score[:], b[a.BlockSize-venti.ScoreSize:])
	// okarena, for both sets of stats: the log and directory fit.
	for _, s := range []Stats{a.Disk, a.Mem} {
		if int64(s.Used)+a.dirSize(s.Clumps) > a.DataSize() || s.Used > 1<<62 {
			return a.errorf("%w: used > size", venti.ErrCorrupt)
		}
	}
	return nil
}

// Snapshot returns a copy of the Arena with its trailer read again, to
// see what a running venti has appended since a was read. a itself does
// not change.
func (a *Arena) Snapshot() (*Arena, error) {
	s := *a
	if err := s.readTrailer(); err != nil {
		return nil, err
	}
	return &s, nil
}

// ReadDir returns the directory entries of clumps [first, first+n).
func (a *Arena) ReadDir(first, n uint32) ([]ClumpInfo, error) {
	if n == 0 {
		return nil, nil
	}
	last := first + n - 1
	if last < first || a.dirSize(last) > a.DataSize() {
		return nil, a.errorf("%w: directory entry %d outside arena", venti.ErrCorrupt, last)
	}
	cm := uint32(a.clumpMax())
	bs := int64(a.BlockSize)
	k0, k1 := first/cm, last/cm
	// Block k sits at base+size-(k+1)*B: read blocks k1 down to k0 at once.
	lo := a.Base() + a.DataSize() - int64(k1+1)*bs
	buf := make([]byte, int64(k1-k0+1)*bs)
	if _, err := a.f.ReadAt(buf, lo); err != nil {
		return nil, a.errorf("read directory: %w", err)
	}
	out := make([]ClumpInfo, n)
	for i := range n {
		c := first + i
		k := c / cm
		off := int64(k1-k)*bs + int64(c%cm)*ClumpInfoSize
		out[i] = unpackClumpInfo(buf[off : off+ClumpInfoSize])
	}
	return out, nil
}

// ComputeScore returns the SHA-1 of the whole arena [Start, Stop) with
// the score slot, the trailer's last ScoreSize bytes, counted as zeros
// (arena.c sumarena).
func (a *Arena) ComputeScore() (venti.Score, error) {
	h := sha1.New()
	end := a.Stop - venti.ScoreSize
	buf := make([]byte, 1<<20)
	for off := a.Start; off < end; {
		n := min(int64(len(buf)), end-off)
		if _, err := a.f.ReadAt(buf[:n], off); err != nil {
			return venti.Score{}, a.errorf("sum: %w", err)
		}
		h.Write(buf[:n])
		off += n
	}
	h.Write(make([]byte, venti.ScoreSize))
	var s venti.Score
	h.Sum(s[:0])
	return s, nil
}

// VerifyScore checks a sealed arena's score against its bytes. An arena
// whose score is still zero (not summed yet) is an error too.
func (a *Arena) VerifyScore() error {
	if a.Score == (venti.Score{}) {
		return a.errorf("no arena score")
	}
	s, err := a.ComputeScore()
	if err != nil {
		return err
	}
	if s != a.Score {
		return a.errorf("%w: arena score %v, data sums to %v", venti.ErrCorrupt, a.Score, s)
	}
	return nil
}

// OpenArena opens one arena whose head block is at offset off of the
// named file (a partition, a byte range "file:lo-hi", or an rdarena
// image), as wrarena -o does. The head gives its size and block size.
func OpenArena(name string, off int64) (*Arena, error) {
	f, err := openFile(name, false)
	if err != nil {
		return nil, err
	}
	b := make([]byte, arenaHeadSize5)
	if _, err := f.ReadAt(b, off); err != nil {
		f.Close()
		return nil, fmt.Errorf("arena at %#x of %s: read head: %w", off, name, err)
	}
	h, err := unpackArenaHead(b)
	if err == nil && (h.blockSize < 512 || h.blockSize > MaxDiskBlock || h.blockSize&(h.blockSize-1) != 0) {
		err = fmt.Errorf("%w: bad block size %d", venti.ErrCorrupt, h.blockSize)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("arena at %#x of %s: %w", off, name, err)
	}
	if int64(h.size) > f.size-off {
		f.Close()
		return nil, fmt.Errorf("arena %s at %#x of %s: arena is truncated", h.name, off, name)
	}
	a, err := loadArena(f, h.name, off, off+int64(h.size), int(h.blockSize))
	if err != nil {
		f.Close()
		return nil, err
	}
	return a, nil
}

// Close closes the file of an arena opened with OpenArena.
func (a *Arena) Close() error { return a.f.Close() }

var _ io.ReaderAt = (*file)(nil)
