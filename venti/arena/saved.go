package arena

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"

	"replfs/venti"
)

// A saved index is the Store's index kept in a file beside the arenas
// (never in a partition, which stays plan9port's format), so that Open
// reads only what was written since it was saved instead of every
// arena's directory. It is the entries (16 bytes each, sorted by key)
// searched through fences kept in memory (the key of every 256th entry,
// 1/32 byte a clump) and a bloom filter (one byte a clump) that answers
// most lookups of absent blocks without a read. What was written since
// the save is in the in-memory index beside it.
//
// The file:
//
//	header   "replfs index 1\n\x00", entries u64, arenas u32, bloom bytes u64,
//	         then for each arena indexed: name[64], clump magic u32,
//	         ctime u32, index address u64, clumps u32, used u64;
//	         then the SHA-1 of all that
//	entries  at the next 4096-byte boundary: key u64, address<<16|size u64
//	fences   the key of entries 0, 256, 512, ...
//	bloom    the filter's bits
//	trailer  the magic again and the header's SHA-1
//
// It is written to a temporary file, synced and renamed, so a crash
// leaves the old one or the new; a file that does not check out (size,
// magic, SHA-1, trailer, or arenas that do not match the partitions) is
// not trusted: the index is rebuilt from the arenas and saved afresh.
type savedIndex struct {
	mu     sync.RWMutex // lookups hold it to read; close and markBad to write
	f      *os.File
	n      int64 // entries
	base   int64 // file offset of entry 0
	fences []uint64
	bloom  []uint64
	arenas []savedArena
	bad    map[uint64]bool // addresses of entries marked bad since; under mu
}

// savedArena is how much of an arena a saved index covers.
type savedArena struct {
	name   string
	magic  uint32
	ctime  uint32
	addr   uint64
	clumps uint32
	used   uint64
}

const (
	savedMagic   = "replfs index 1\n\x00"
	fenceEvery   = 256
	savedArenaSz = ANameSize + 4 + 4 + 8 + 4 + 8
	savedHeadFix = 16 + 8 + 4 + 8
	entrySize    = 16
)

// errStale is a saved index that does not match the arenas.
var errStale = errors.New("stale")

func bloomBits(n int64) int64 {
	m := int64(1 << 16)
	for m < 8*n {
		m <<= 1
	}
	return m
}

// bloomPos returns the k bit positions of key in a filter of m bits.
func bloomPos(key uint64, m int64, k int, fn func(uint64)) {
	a, b := key>>32, key|1
	for i := range uint64(k) {
		fn((a + i*b) & uint64(m-1))
	}
}

const bloomK = 5 // 2% false positives at 8 bits an entry

func (x *savedIndex) mayHave(key uint64) bool {
	if len(x.bloom) == 0 {
		return false
	}
	m := int64(len(x.bloom)) * 64
	ok := true
	bloomPos(key, m, bloomK, func(p uint64) {
		if x.bloom[p>>6]&(1<<(p&63)) == 0 {
			ok = false
		}
	})
	return ok
}

// lookup calls fn with each saved entry whose key matches, until fn
// returns true. It reads the file, one page, rarely two, and needs no
// Store lock: the file never changes, and close waits for lookups.
func (x *savedIndex) lookup(key uint64, fn func(addr uint64, size uint16) bool) error {
	if x == nil || x.n == 0 || !x.mayHave(key&^entryBad) {
		return nil
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.f == nil {
		return nil // closed: replaced by a newer save
	}
	// The first fence above key; the entries start in the page before.
	i := sort.Search(len(x.fences), func(i int) bool { return x.fences[i] > key })
	first := int64(max(i-1, 0)) * fenceEvery
	buf := make([]byte, fenceEvery*entrySize)
	for at := first; at < x.n; at += fenceEvery {
		cnt := min(fenceEvery, x.n-at)
		b := buf[:cnt*entrySize]
		if _, err := x.f.ReadAt(b, x.base+at*entrySize); err != nil {
			return fmt.Errorf("index %s: %w", x.f.Name(), err)
		}
		for j := int64(0); j < cnt; j++ {
			k := binary.BigEndian.Uint64(b[j*entrySize:])
			if k > key {
				return nil
			}
			if k != key {
				continue
			}
			loc := binary.BigEndian.Uint64(b[j*entrySize+8:])
			if x.bad[loc>>16] {
				continue
			}
			if fn(loc>>16, uint16(loc)) {
				return nil
			}
		}
	}
	return nil
}

func (x *savedIndex) close() {
	if x == nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.f != nil {
		x.f.Close()
		x.f = nil
	}
}

// markBad makes the entry at addr match no lookup.
func (x *savedIndex) markBad(addr uint64) {
	x.mu.Lock()
	x.bad[addr] = true
	x.mu.Unlock()
}

// badMarks returns a copy of the bad marks.
func (x *savedIndex) badMarks() map[uint64]bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return maps.Clone(x.bad)
}

// openSaved reads the saved index at path and checks it against the
// store's arenas: each arena it covers must be the one at that place
// (name, clump magic, creation time, index address) with at least the
// clumps it says, the last of which must be where it says.
// With arenas nil it checks the file alone (one the store just wrote).
func openSaved(path string, arenas []*sarena) (*savedIndex, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	x, err := readSaved(f, arenas)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("index %s: %w", path, err)
	}
	return x, nil
}

func readSaved(f *os.File, arenas []*sarena) (*savedIndex, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	fix := make([]byte, savedHeadFix)
	if _, err := f.ReadAt(fix, 0); err != nil || string(fix[:16]) != savedMagic {
		return nil, fmt.Errorf("%w: not a replfs index", errStale)
	}
	n := int64(binary.BigEndian.Uint64(fix[16:]))
	na := int64(binary.BigEndian.Uint32(fix[24:]))
	nb := int64(binary.BigEndian.Uint64(fix[28:]))
	if n < 0 || n > size/entrySize || arenas != nil && na > int64(len(arenas)) || na > MaxAMap*64 || nb < 0 || nb > size || nb%8 != 0 {
		return nil, fmt.Errorf("%w: bad header", errStale)
	}
	hlen := savedHeadFix + na*savedArenaSz
	head := make([]byte, hlen+sha1.Size)
	if _, err := f.ReadAt(head, 0); err != nil {
		return nil, fmt.Errorf("%w: short header", errStale)
	}
	sum := sha1.Sum(head[:hlen])
	if !bytes.Equal(sum[:], head[hlen:]) {
		return nil, fmt.Errorf("%w: header checksum", errStale)
	}
	base := (hlen + sha1.Size + 4095) &^ 4095
	nf := (n + fenceEvery - 1) / fenceEvery
	fencesAt := base + n*entrySize
	bloomAt := fencesAt + nf*8
	if size != bloomAt+nb+16+sha1.Size {
		return nil, fmt.Errorf("%w: %d bytes, want %d", errStale, size, bloomAt+nb+16+sha1.Size)
	}
	tr := make([]byte, 16+sha1.Size)
	if _, err := f.ReadAt(tr, bloomAt+nb); err != nil || string(tr[:16]) != savedMagic || !bytes.Equal(tr[16:], sum[:]) {
		return nil, fmt.Errorf("%w: trailer", errStale)
	}
	x := &savedIndex{f: f, n: n, base: base, bad: map[uint64]bool{}}
	p := head[savedHeadFix:hlen]
	for i := range na {
		r := p[i*savedArenaSz:]
		name, err := unpackName(r)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errStale, err)
		}
		sa := savedArena{name: name, magic: be32(r[ANameSize:]), ctime: be32(r[ANameSize+4:]),
			addr: be64(r[ANameSize+8:]), clumps: be32(r[ANameSize+16:]), used: be64(r[ANameSize+20:])}
		if arenas != nil {
			if err := checkSavedArena(sa, arenas[i]); err != nil {
				return nil, fmt.Errorf("%w: %v", errStale, err)
			}
		}
		x.arenas = append(x.arenas, sa)
	}
	fb := make([]byte, nf*8)
	if _, err := f.ReadAt(fb, fencesAt); err != nil {
		return nil, err
	}
	x.fences = make([]uint64, nf)
	for i := range x.fences {
		x.fences[i] = binary.BigEndian.Uint64(fb[i*8:])
	}
	bb := make([]byte, nb)
	if _, err := f.ReadAt(bb, bloomAt); err != nil {
		return nil, err
	}
	x.bloom = make([]uint64, nb/8)
	for i := range x.bloom {
		x.bloom[i] = binary.BigEndian.Uint64(bb[i*8:])
	}
	return x, nil
}

// checkSavedArena checks that the arena a saved index covers is still
// there, as far as it covered it: the same arena, no fewer clumps, and
// its last covered clump's header where the index says its log ended.
func checkSavedArena(sa savedArena, a *sarena) error {
	if sa.name != a.Name || sa.magic != a.ClumpMagic || sa.ctime != a.Ctime && sa.clumps > 0 || sa.addr != a.addr {
		return fmt.Errorf("arena %s is not the one indexed", a.Name)
	}
	if sa.clumps > a.Mem.Clumps || sa.used > a.Mem.Used {
		return fmt.Errorf("arena %s has %d clumps, the index %d", a.Name, a.Mem.Clumps, sa.clumps)
	}
	if sa.clumps == 0 {
		if sa.used != 0 {
			return fmt.Errorf("arena %s: no clumps in %d bytes", a.Name, sa.used)
		}
		return nil
	}
	dir, err := a.ReadDir(sa.clumps-1, 1)
	if err != nil {
		return err
	}
	ci := dir[0]
	off := int64(sa.used) - ClumpSize - int64(ci.Size)
	if off < 0 {
		return fmt.Errorf("arena %s: last clump indexed before the log", a.Name)
	}
	hb := make([]byte, ClumpSize)
	if _, err := a.f.ReadAt(hb, a.Base()+off); err != nil {
		return err
	}
	h, err := unpackClump(hb, a.ClumpMagic)
	if err != nil || h.score != ci.Score || h.dtype != ci.DiskType || h.size != ci.Size {
		return fmt.Errorf("arena %s: its clump %d is not where the index has it", a.Name, sa.clumps-1)
	}
	return nil
}

// writeSaved writes a saved index of the entries of old (if any) and
// add, covering arenas as far as cover says, to path: a temporary file,
// synced, renamed over path, the directory synced.
func writeSaved(path string, old *savedIndex, bad map[uint64]bool, add []ientry, cover []savedArena) error {
	slices.SortFunc(add, func(a, b ientry) int {
		if a.key != b.key {
			if a.key < b.key {
				return -1
			}
			return 1
		}
		if a.loc < b.loc {
			return -1
		} else if a.loc > b.loc {
			return 1
		}
		return 0
	})
	n := int64(len(add))
	if old != nil {
		n += old.n
	}
	m := bloomBits(n)
	bloom := make([]uint64, m/64)
	hlen := int64(savedHeadFix + len(cover)*savedArenaSz)
	head := make([]byte, hlen, hlen+sha1.Size)
	copy(head, savedMagic)
	binary.BigEndian.PutUint64(head[16:], uint64(n))
	binary.BigEndian.PutUint32(head[24:], uint32(len(cover)))
	binary.BigEndian.PutUint64(head[28:], uint64(m/8))
	for i, sa := range cover {
		r := head[savedHeadFix+i*savedArenaSz:]
		packName(r, sa.name)
		put32(r[ANameSize:], sa.magic)
		put32(r[ANameSize+4:], sa.ctime)
		put64(r[ANameSize+8:], sa.addr)
		put32(r[ANameSize+16:], sa.clumps)
		put64(r[ANameSize+20:], sa.used)
	}
	sum := sha1.Sum(head)
	head = append(head, sum[:]...)
	base := (int64(len(head)) + 4095) &^ 4095

	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	w.Write(head)
	w.Write(make([]byte, base-int64(len(head))))
	var fences []uint64
	var i int64
	var e [entrySize]byte
	put := func(key, loc uint64) {
		if i%fenceEvery == 0 {
			fences = append(fences, key)
		}
		binary.BigEndian.PutUint64(e[:], key)
		binary.BigEndian.PutUint64(e[8:], loc)
		w.Write(e[:])
		bloomPos(key, m, bloomK, func(p uint64) { bloom[p>>6] |= 1 << (p & 63) })
		i++
	}
	// Merge the old file's entries, read in order, with the new.
	j := 0
	if old != nil {
		r := bufio.NewReaderSize(io.NewSectionReader(old.f, old.base, old.n*entrySize), 1<<20)
		for k := int64(0); k < old.n; k++ {
			if _, err := io.ReadFull(r, e[:]); err != nil {
				return fmt.Errorf("index %s: %w", old.f.Name(), err)
			}
			key, loc := binary.BigEndian.Uint64(e[:]), binary.BigEndian.Uint64(e[8:])
			for j < len(add) && (add[j].key < key || add[j].key == key && add[j].loc < loc) {
				put(add[j].key, add[j].loc)
				j++
			}
			if bad[loc>>16] {
				continue // a clump that failed its checks: forgotten
			}
			put(key, loc)
		}
	}
	for ; j < len(add); j++ {
		put(add[j].key, add[j].loc)
	}
	fb := make([]byte, 8)
	for _, k := range fences {
		binary.BigEndian.PutUint64(fb, k)
		w.Write(fb)
	}
	for _, b := range bloom {
		binary.BigEndian.PutUint64(fb, b)
		w.Write(fb)
	}
	w.WriteString(savedMagic)
	w.Write(sum[:])
	if err := w.Flush(); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// CheckIndex compares the index with the arenas' directories, clump by
// clump: every clump is found at its address, and the index holds no
// more entries than there are clumps. It returns the clumps checked.
func (s *Store) CheckIndex() (int64, error) {
	return s.verifyIndex()
}

func (s *Store) verifyIndex() (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	total := int64(s.idx.n)
	if s.saved != nil {
		total += s.saved.n
	}
	var clumps int64
	for _, a := range s.arenas {
		dir, err := a.ReadDir(0, a.dirFlushed)
		if err != nil {
			return clumps, err
		}
		dir = append(dir, a.dir...)
		var off uint64
		for _, ci := range dir {
			if ci.Type() == venti.CorruptType {
				off += ClumpSize + uint64(ci.Size)
				continue
			}
			clumps++
			want, found := a.addr+off, false
			s.lookupLocked(ci.Score, ci.DiskType, func(addr uint64, size uint16) bool {
				found = addr == want && size == ci.Size
				return found
			})
			if !found {
				return clumps, fmt.Errorf("arena %s: clump at %#x (%v) not in the index", a.Name, off, ci.Score)
			}
			off += ClumpSize + uint64(ci.Size)
		}
	}
	if total != clumps {
		return clumps, fmt.Errorf("index holds %d entries for %d clumps", total, clumps)
	}
	return clumps, nil
}
