package arena

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"replfs/venti"
)

// StoreOptions configure a Store. The zero value is ready to use.
type StoreOptions struct {
	// Logf receives recovery and sealing notes; nil discards them.
	Logf func(format string, args ...any)
	// Now stamps clumps and trailers; nil means time.Now.
	Now func() time.Time
	// FlushSize is how much new log a writer buffers before writing it
	// to the file (without fsync); default 1 MiB.
	FlushSize int
	// NoCompress stores every block as it is (encoding 1); by default
	// a block whack makes smaller is stored compressed, as venti does.
	NoCompress bool
	// IndexFile, if set, keeps the index in that file (see saved.go):
	// Open then reads only the clumps written since it was saved. ""
	// rebuilds the index in memory from every directory at each Open.
	IndexFile string
	// SaveEvery is how many clumps may be indexed in memory only before
	// a Sync saves the index file again; default 1<<20. Close saves it.
	SaveEvery int
}

// A Store is a durable venti.Store on arena partitions: blocks are
// appended to the arenas as plan9port venti appends them, so the
// partitions stay readable by plan9port's tools and venti. The index
// lives in memory and is rebuilt from the arenas' directories on Open.
// Write buffers new clumps in memory; Sync writes them, their directory
// entries and the trailers, and fsyncs. A Store is safe for concurrent
// use.
type Store struct {
	opts   StoreOptions
	parts  []*Partition
	arenas []*sarena // in order across partitions; addr increasing

	syncMu sync.Mutex // serializes Sync
	saveMu sync.Mutex // serializes saves of the index file

	mu     sync.Mutex  // protects following, and each sarena's mutable state
	cur    int         // the arena being appended to
	idx    *index      // clumps not in saved
	saved  *savedIndex // the index file, or nil
	closed bool
	sumq   []*sarena // sealed arenas waiting for their score

	reads, writes atomic.Int64 // requests served, for Stats

	lmu     sync.Mutex // protects following
	logBuf  []byte     // /log
	rates   []rateSample
	graphed chan struct{} // closed when the rate sampler has returned

	wake    chan struct{} // tells the summer there is work; 1-buffered
	stop    chan struct{} // closed by Close
	stopped chan struct{} // closed when the summer has returned
}

// sarena is an arena of a Store.
type sarena struct {
	*Arena
	part *Partition
	addr uint64 // index address of log offset 0

	// Under Store.mu. The log is on disk up to flushed; buf holds the
	// rest up to Mem.Used. Directory entries are on disk up to dirFlushed;
	// dir holds the rest up to Mem.Clumps.
	buf        []byte
	flushed    int64
	dir        []ClumpInfo
	dirFlushed uint32
	gen        uint64 // bumped with each change the trailer must show
	synced     uint64 // gen last handed to a trailer write

	tmu     sync.Mutex // orders trailer writes
	written uint64     // gen of the trailer on disk; under tmu

	dmu       sync.Mutex // protects following: what a trailer on disk counts
	durClumps uint32
	durUsed   uint64
}

// indexBase is where index addresses start, as in plan9port's amap.
const indexBase = 1 << 20

// Open opens the named arena partitions for writing and returns a Store
// over their arenas, in order. It recovers each unsealed arena as
// plan9port venti's syncarena does: clumps written after the last
// trailer update are found by scanning the log, checked, and added to
// the directory. Then it builds the index from the directories.
func Open(ctx context.Context, names []string, opts StoreOptions) (*Store, error) {
	if len(names) == 0 {
		return nil, errors.New("open arenas: no partitions")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FlushSize <= 0 {
		opts.FlushSize = 1 << 20
	}
	s := &Store{opts: opts, wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	fail := func(err error) (*Store, error) {
		for _, p := range s.parts {
			p.Close()
		}
		return nil, err
	}
	seen := map[string]string{}
	addr := uint64(indexBase)
	for _, name := range names {
		p, err := openPartition(name, true)
		if err != nil {
			return fail(err)
		}
		s.parts = append(s.parts, p)
		for _, a := range p.Arenas {
			if other, dup := seen[a.Name]; dup {
				return fail(fmt.Errorf("open arenas: duplicate arena name %s in %s and %s", a.Name, other, name))
			}
			seen[a.Name] = name
			sa := &sarena{Arena: a, part: p, addr: addr, flushed: int64(a.Mem.Used), dirFlushed: a.Mem.Clumps}
			s.arenas = append(s.arenas, sa)
			addr += uint64(a.DataSize())
			if addr > maxIndexAddr {
				return fail(fmt.Errorf("open arenas: more than %d bytes of arenas", uint64(maxIndexAddr)))
			}
		}
	}
	total := 0
	for _, a := range s.arenas {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		if !a.Mem.Sealed {
			if err := s.recoverArena(a); err != nil {
				return fail(err)
			}
		}
		total += int(a.Mem.Clumps)
	}
	for _, a := range s.arenas {
		a.durClumps, a.durUsed = a.Mem.Clumps, a.Mem.Used
	}
	if opts.SaveEvery <= 0 {
		s.opts.SaveEvery = 1 << 20
	}
	if err := s.loadIndex(ctx, total); err != nil {
		return fail(err)
	}
	s.cur = len(s.arenas)
	for i, a := range s.arenas {
		if !a.Mem.Sealed {
			s.cur = i
			break
		}
	}
	for _, a := range s.arenas {
		if a.Mem.Sealed && a.Score == (venti.Score{}) {
			s.sumq = append(s.sumq, a)
		}
	}
	if len(s.sumq) > 0 {
		s.kick()
	}
	go s.summer()
	s.graphed = make(chan struct{})
	go s.sampleRates()
	return s, nil
}

// loadIndex opens the saved index, if there is one to trust, and
// indexes in memory what it lacks; otherwise every directory, and then
// saves the index so the next Open need not.
func (s *Store) loadIndex(ctx context.Context, total int) error {
	path := s.opts.IndexFile
	if path != "" {
		// A save a crash cut short leaves its temporary file.
		old, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".*"))
		for _, f := range old {
			os.Remove(f)
		}
		if len(old) > 0 {
			s.logf("index %s: removed %d unfinished save(s)", path, len(old))
		}
		x, err := openSaved(path, s.arenas)
		switch {
		case err == nil:
			s.saved = x
			var fresh int
			for i, a := range s.arenas {
				if i < len(x.arenas) {
					fresh += int(a.Mem.Clumps - x.arenas[i].clumps)
				} else {
					fresh += int(a.Mem.Clumps)
				}
			}
			s.idx = newIndex(fresh + fresh/8)
			for i, a := range s.arenas {
				if err := ctx.Err(); err != nil {
					return err
				}
				var from savedArena
				if i < len(x.arenas) {
					from = x.arenas[i]
				}
				if err := s.indexArena(a, from.clumps, from.used); err != nil {
					return err
				}
			}
			return nil
		case !errors.Is(err, os.ErrNotExist):
			s.logf("%v: rebuilding it from the arenas", err)
		}
	}
	s.idx = newIndex(total + total/8)
	for _, a := range s.arenas {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.indexArena(a, 0, 0); err != nil {
			return err
		}
	}
	if path != "" {
		if err := s.saveIndex(); err != nil {
			s.logf("index %s: %v", path, err)
		}
	}
	return nil
}

// indexArena adds the clumps of a's directory from the first'th, whose
// header is at log offset off, to the in-memory index.
func (s *Store) indexArena(a *sarena, first uint32, off uint64) error {
	const chunk = 64 * 1024
	for ; first < a.Mem.Clumps; first += chunk {
		n := min(chunk, a.Mem.Clumps-first)
		dir, err := a.ReadDir(first, n)
		if err != nil {
			return err
		}
		for _, ci := range dir {
			if ci.Type() != venti.CorruptType {
				s.idx.insert(ci.Score, ci.DiskType, a.addr+off, ci.Size)
			}
			off += ClumpSize + uint64(ci.Size)
		}
	}
	if off != a.Mem.Used {
		return fmt.Errorf("arena %s: %w: directory sums to %d bytes, trailer says used %d", a.Name, venti.ErrCorrupt, off, a.Mem.Used)
	}
	return nil
}

// lookupLocked calls fn with each indexed place of (score, dt), those
// in memory first, until fn returns true; s.mu is held. The read and
// write paths look in the saved index without the lock (savedLookup):
// this is for checks.
func (s *Store) lookupLocked(score venti.Score, dt uint8, fn func(addr uint64, size uint16) bool) {
	done := false
	s.idx.lookup(score, dt, func(addr uint64, size uint16) bool {
		done = fn(addr, size)
		return done
	})
	if !done {
		s.savedLookup(s.saved, score, dt, fn)
	}
}

// savedLookup calls fn with each place of (score, dt) in the saved
// index x, until fn returns true. It takes no Store lock: the file is
// read while others write. Its entries are checked as they are used:
// one that points outside the log a synced trailer counts (a damaged
// file) is passed over.
func (s *Store) savedLookup(x *savedIndex, score venti.Score, dt uint8, fn func(addr uint64, size uint16) bool) {
	if x == nil {
		return
	}
	err := x.lookup(ikey(score, dt), func(addr uint64, size uint16) bool {
		if len(s.arenas) == 0 || addr < s.arenas[0].addr {
			return false
		}
		a, off := s.locate(addr)
		a.dmu.Lock()
		used := a.durUsed
		a.dmu.Unlock()
		if uint64(off)+ClumpSize+uint64(size) > used {
			return false
		}
		return fn(addr, size)
	})
	if err != nil {
		s.logf("%v", err)
	}
}

// savedHas reports whether the saved index x has the block, confirmed
// against its clump header, read without the Store lock (a clump a
// synced trailer counts never changes).
func (s *Store) savedHas(x *savedIndex, score venti.Score, dt uint8) (bool, error) {
	var found bool
	var err error
	hb := make([]byte, ClumpSize)
	s.savedLookup(x, score, dt, func(addr uint64, size uint16) bool {
		a, off := s.locate(addr)
		if _, err = a.f.ReadAt(hb, a.Base()+off); err != nil {
			err = a.errorf("read clump %#x: %w", off, err)
			return true
		}
		h, herr := unpackClump(hb, a.ClumpMagic)
		found = herr == nil && h.score == score && h.dtype == dt
		return found
	})
	return found, err
}

// saveIndex writes the index file: the saved entries and those in
// memory of clumps a trailer on disk counts (the others are saved the
// next time), then takes the new file in place of the old and drops
// from memory what it holds. Writes go on meanwhile.
func (s *Store) saveIndex() error {
	if s.opts.IndexFile == "" {
		return nil
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.mu.Lock()
	if s.closed && s.saved == nil && s.idx == nil {
		s.mu.Unlock()
		return errClosed
	}
	cover := make([]savedArena, len(s.arenas))
	for i, a := range s.arenas {
		a.dmu.Lock()
		cover[i] = savedArena{name: a.Name, magic: a.ClumpMagic, ctime: a.Ctime, addr: a.addr, clumps: a.durClumps, used: a.durUsed}
		a.dmu.Unlock()
		if cover[i].clumps == 0 {
			cover[i].ctime = a.Ctime
		}
	}
	upto := make(map[*sarena]uint64, len(cover))
	for i, a := range s.arenas {
		upto[a] = cover[i].used
	}
	covered := func(addr uint64) bool {
		a, off := s.locate(addr)
		return uint64(off) < upto[a]
	}
	var add []ientry
	s.idx.each(func(e ientry) {
		if e.key&entryBad == 0 && covered(e.loc>>16) {
			add = append(add, e)
		}
	})
	old := s.saved
	var bad map[uint64]bool
	if old != nil {
		bad = old.badMarks()
	}
	s.mu.Unlock()

	// Arenas past the last with clumps are not recorded: they may yet
	// be given a creation time.
	for len(cover) > 0 && cover[len(cover)-1].clumps == 0 {
		cover = cover[:len(cover)-1]
	}
	if err := writeSaved(s.opts.IndexFile, old, bad, add, cover); err != nil {
		return err
	}
	x, err := openSaved(s.opts.IndexFile, nil)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Marks set while the file was written stay in force.
	if old != nil {
		for k := range old.badMarks() {
			if !bad[k] {
				x.bad[k] = true
			}
		}
	}
	s.saved = x
	rest := newIndex(0)
	s.idx.each(func(e ientry) {
		if !covered(e.loc >> 16) {
			rest.put(e)
			rest.n++
			if (rest.n+1)*4 > len(rest.slots)*3 {
				rest.grow()
			}
		}
	})
	s.idx = rest
	old.close()
	return nil
}

// locate returns the arena holding index address addr and the log
// offset there.
func (s *Store) locate(addr uint64) (*sarena, int64) {
	i := sort.Search(len(s.arenas), func(i int) bool { return s.arenas[i].addr > addr }) - 1
	a := s.arenas[i]
	return a, int64(addr - a.addr)
}

func (s *Store) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
	line := time.Now().UTC().Format(time.RFC3339) + " " + fmt.Sprintf(format, args...) + "\n"
	s.lmu.Lock()
	s.logBuf = append(s.logBuf, line...)
	if len(s.logBuf) > maxStoreLog {
		cut := len(s.logBuf) - maxStoreLog
		for cut < len(s.logBuf) && s.logBuf[cut-1] != '\n' {
			cut++
		}
		s.logBuf = append([]byte(nil), s.logBuf[cut:]...)
	}
	s.lmu.Unlock()
}

// maxStoreLog bounds the log /log shows: its newest lines.
const maxStoreLog = 64 << 10

func (s *Store) logText() []byte {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	return append([]byte(nil), s.logBuf...)
}

var errClosed = errors.New("arena store closed")

// Write implements venti.Store.
func (s *Store) Write(ctx context.Context, t venti.Type, data []byte) (venti.Score, error) {
	if len(data) == 0 {
		return venti.ZeroScore, nil
	}
	if len(data) > venti.MaxLumpSize {
		return venti.Score{}, errors.New("lump too large")
	}
	dt, ok := t.DiskType()
	if !ok {
		return venti.Score{}, errors.New("invalid lump type")
	}
	s.writes.Add(1)
	score := venti.Sum(data)
	// Compressed, as venti stores it, when whack makes it smaller. The
	// compressing is done outside the lock, so writes in flight share
	// the cores; a block that looks random is not tried, and takes the
	// lock once.
	try := !s.opts.NoCompress && len(data) >= whackMinMatch && !looksRandom(data)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return venti.Score{}, errClosed
	}
	found, err := s.hasLocked(score, dt)
	x := s.saved
	if err == nil && !found && !try && x == nil {
		// Nothing to look up on disk, nothing to compress: append now.
		defer s.mu.Unlock()
		return score, s.appendLocked(score, dt, data, EncodingNone, len(data))
	}
	s.mu.Unlock()
	if err != nil || found {
		return score, err
	}
	// The saved index is read without the lock.
	if found, err := s.savedHas(x, score, dt); err != nil || found {
		return score, err
	}
	stored, enc := data, uint8(EncodingNone)
	if try {
		bp := whackBufs.Get().(*[]byte)
		defer whackBufs.Put(bp)
		if n := whack((*bp)[:len(data)], data); n > 0 && n < len(data) {
			stored, enc = (*bp)[:n], EncodingCompress
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return venti.Score{}, errClosed
	}
	// Another write of the same block may have got in meanwhile, and a
	// save may have moved it into a new index file.
	if found, err := s.hasLocked(score, dt); err != nil || found {
		return score, err
	}
	if s.saved != x {
		if found, err := s.savedHas(s.saved, score, dt); err != nil || found {
			return score, err
		}
	}
	return score, s.appendLocked(score, dt, stored, enc, len(data))
}

// whackBufs hold compressed blocks until they are appended.
var whackBufs = sync.Pool{New: func() any { b := make([]byte, venti.MaxLumpSize); return &b }}

// hasLocked reports whether the block is stored, confirming an index
// match against the clump header.
func (s *Store) hasLocked(score venti.Score, dt uint8) (bool, error) {
	var found bool
	var err error
	s.idx.lookup(score, dt, func(addr uint64, size uint16) bool {
		a, off := s.locate(addr)
		var hb []byte
		if off >= a.flushed {
			hb = a.buf[off-a.flushed:]
		} else {
			hb = make([]byte, ClumpSize)
			if _, err = a.f.ReadAt(hb, a.Base()+off); err != nil {
				err = a.errorf("read clump %#x: %w", off, err)
				return true
			}
		}
		h, herr := unpackClump(hb, a.ClumpMagic)
		found = herr == nil && h.score == score && h.dtype == dt
		return found
	})
	return found, err
}

// fits reports whether a clump of n log bytes (header included) can be
// appended to a (arena.c writeaclump: room for it, the ClumpFreeMagic
// after it, and the directory with one more entry).
func (a *sarena) fits(n int) bool {
	return int64(a.Mem.Used)+int64(n)+4+4+a.dirSize(a.Mem.Clumps+1) <= a.DataSize()
}

// appendLocked appends a clump of data, encoded as enc from a block of
// uncsize bytes, to the current arena, sealing full arenas and moving
// on as venti does.
func (s *Store) appendLocked(score venti.Score, dt uint8, data []byte, enc uint8, uncsize int) error {
	n := ClumpSize + len(data)
	for {
		if s.cur >= len(s.arenas) {
			return errors.New("no space left in arenas")
		}
		a := s.arenas[s.cur]
		if !a.Mem.Sealed && a.fits(n) {
			break
		}
		if err := s.sealLocked(a); err != nil {
			return err
		}
		s.cur++
	}
	a := s.arenas[s.cur]
	now := uint32(s.opts.Now().Unix())
	h := clumpHeader{dtype: dt, size: uint16(len(data)), uncsize: uint16(uncsize), score: score,
		encoding: enc, time: now}
	off := a.Mem.Used
	start := len(a.buf)
	a.buf = append(a.buf, make([]byte, ClumpSize)...)
	packClump(h, a.buf[start:], a.ClumpMagic)
	a.buf = append(a.buf, data...)
	a.dir = append(a.dir, ClumpInfo{dt, h.size, h.uncsize, score})
	s.idx.insert(score, dt, a.addr+off, h.size)
	a.Mem.Used += uint64(n)
	a.Mem.Clumps++
	if enc == EncodingCompress {
		a.Mem.CClumps++
	}
	a.Mem.Uncsize += uint64(uncsize)
	a.Wtime = now
	if a.Ctime == 0 {
		a.Ctime = now
	}
	a.gen++
	if len(a.buf) >= s.opts.FlushSize {
		return s.flushLocked(a)
	}
	return nil
}

// Read implements venti.Store. Clumps are checked against the score as
// they are read; one that fails is an error naming its arena and offset.
func (s *Store) Read(ctx context.Context, score venti.Score, t venti.Type, max int) ([]byte, error) {
	s.reads.Add(1)
	dt, ok := t.DiskType()
	if !ok {
		return nil, venti.NotFound(score, t)
	}
	type cand struct {
		a    *sarena
		off  int64
		size uint16
	}
	var (
		cands []cand
		data  []byte // a buffered clump's data, as stored
		hdr   clumpHeader
	)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errClosed
	}
	s.idx.lookup(score, dt, func(addr uint64, size uint16) bool {
		a, off := s.locate(addr)
		if off < a.flushed {
			cands = append(cands, cand{a, off, size})
			return false
		}
		b := a.buf[off-a.flushed:]
		h, err := unpackClump(b, a.ClumpMagic)
		if err != nil || h.score != score || h.dtype != dt {
			return false
		}
		data, hdr = append([]byte(nil), b[ClumpSize:ClumpSize+int(h.size)]...), h
		return true
	})
	x := s.saved
	s.mu.Unlock()
	if data == nil {
		// The saved index is read without the lock; its clumps are all
		// flushed.
		s.savedLookup(x, score, dt, func(addr uint64, size uint16) bool {
			a, off := s.locate(addr)
			cands = append(cands, cand{a, off, size})
			return false
		})
	}
	if data != nil {
		if hdr.encoding == EncodingCompress {
			return decodeClump(hdr, data)
		}
		return data, nil
	}
	var bad error // a damaged copy; another may be good
	for _, c := range cands {
		b := make([]byte, ClumpSize+int(c.size))
		if _, err := c.a.f.ReadAt(b, c.a.Base()+c.off); err != nil {
			return nil, c.a.errorf("read clump %#x: %w", c.off, err)
		}
		h, err := unpackClump(b, c.a.ClumpMagic)
		if err != nil {
			return nil, c.a.errorf("clump %#x: %w", c.off, err)
		}
		if h.score != score || h.dtype != dt {
			continue // another block with the same score prefix
		}
		data, err := decodeClump(h, b[ClumpSize:])
		if err != nil {
			// Forget it: the block now reads as absent, and writing it
			// again stores a good copy.
			s.mu.Lock()
			s.idx.markBad(score, dt, c.a.addr+uint64(c.off))
			if s.saved != nil {
				s.saved.markBad(c.a.addr + uint64(c.off))
			}
			s.mu.Unlock()
			bad = c.a.errorf("clump %#x: %w", c.off, err)
			continue
		}
		return data, nil
	}
	if bad != nil {
		return nil, bad
	}
	return nil, venti.NotFound(score, t)
}

// decodeClump returns the block a clump holds, decompressed and
// checked against the header's score.
func decodeClump(h clumpHeader, raw []byte) ([]byte, error) {
	data := raw
	if h.encoding == EncodingCompress {
		data = make([]byte, h.uncsize)
		n, err := unwhack(data, raw)
		if err == nil && n != len(data) {
			err = fmt.Errorf("gave partial block: %d/%d", n, len(data))
		}
		if err != nil {
			return nil, fmt.Errorf("%w: decompression failed: %v", venti.ErrCorrupt, err)
		}
	}
	if got := venti.Sum(data); got != h.score {
		return nil, fmt.Errorf("%w: mismatched score: want %v got %v", venti.ErrCorrupt, h.score, got)
	}
	return data, nil
}

var _ venti.Store = (*Store)(nil)

// StoreStats are a Store's counts.
type StoreStats struct {
	Arenas, Sealed  int
	Clumps, CClumps int64
	Uncsize, Used   uint64 // block bytes, and the log bytes they take
	Reads, Writes   int64  // requests since Open
}

// Stats returns the store's counts now.
func (s *Store) Stats() StoreStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := StoreStats{Arenas: len(s.arenas), Reads: s.reads.Load(), Writes: s.writes.Load()}
	for _, a := range s.arenas {
		if a.Mem.Sealed {
			st.Sealed++
		}
		st.Clumps += int64(a.Mem.Clumps)
		st.CClumps += int64(a.Mem.CClumps)
		st.Uncsize += a.Mem.Uncsize
		st.Used += a.Mem.Used
	}
	return st
}
