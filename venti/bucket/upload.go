package bucket

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"sync/atomic"

	"replfs/venti"
	"replfs/venti/arena"
)

// UploadOptions control Upload. The zero value is ready to use.
type UploadOptions struct {
	DryRun bool
	// Checkpoint is the most log an unsealed arena's range object holds
	// (it may hold one clump more); default 64 MiB.
	Checkpoint int64
	PartSize   int64 // multipart part size; default 16 MiB
	Parallel   int   // objects in flight; default 4
	// Throttle, if set, is called before bytes are sent and may block
	// to keep a rate.
	Throttle func(n int)
	// Progress, if set, is told of the bytes sent so far and where the
	// run has reached.
	Progress func(Progress)
	// Commit, if set, is called after each write of the manifest.
	Commit func(*Manifest)
	// RootScor, if not nil, is the root score log to leave with the
	// arenas (only archives whose data the manifest names).
	RootScor []byte
	// Stop, when closed, ends the upload at the next object: those in
	// flight finish and are recorded, and Upload returns
	// arena.ErrStopped.
	Stop <-chan struct{}
	Logf func(format string, args ...any)
}

// Progress is an Upload's position.
type Progress struct {
	Arena  string // the arena being sent
	Sent   int64  // its arena offset sent so far
	Bytes  int64  // arena bytes sent in this run
	Clumps int64  // clumps recorded in this run
}

// UploadStats count a run; in a dry run, what would be sent.
type UploadStats struct {
	Arenas  int   // arenas with data sent
	Objects int   // objects stored
	Clumps  int64 // clumps newly recorded
	Bytes   int64 // arena bytes sent
	Arena   string
	Offset  int64 // log offset the manifest names in Arena
}

// A unit is one object (or log and directory pair) to store.
type unit struct {
	e      *Entry
	a      *arena.Arena
	sealed bool   // the whole arena
	rng    Range  // else this range
	dir    []byte // its directory entries
	used   int64  // the log offset at its end
	bytes  int64
}

// Upload brings the copy under b's prefix up to date with the arenas
// of parts, in order: each sealed arena whose score is set becomes one
// object holding exactly its bytes, and the log of any other is stored
// as range objects from where the copy has reached, at most Checkpoint
// long, each with its directory entries. The manifest is written after
// objects are stored, conditionally, so it never names a missing object
// and a second writer of the prefix is refused (ErrConflict); objects
// it no longer names are removed after. A multipart upload an earlier
// run left unfinished is continued if it is an object wanted now, else
// aborted. Arenas of another venti under the same names are refused.
func Upload(ctx context.Context, b *Bucket, parts []*arena.Partition, opts UploadOptions) (UploadStats, error) {
	if opts.Checkpoint <= 0 {
		opts.Checkpoint = 64 << 20
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 4
	}
	var st UploadStats
	m, etag, err := b.LoadManifest(ctx)
	if err != nil {
		return st, err
	}
	units, err := plan(m, parts, opts.Checkpoint)
	if err != nil {
		return st, fmt.Errorf("%s: %w", b, err)
	}
	arenas := map[string]bool{}
	for _, u := range units {
		st.Bytes += u.bytes
		st.Clumps += int64(u.rng.Clumps)
		if u.sealed {
			st.Objects++
			st.Clumps += int64(u.a.Mem.Clumps - u.e.Clumps)
		} else {
			st.Objects += 2
		}
		arenas[u.e.Name] = true
		st.Arena, st.Offset = u.e.Name, u.used
	}
	st.Arenas = len(arenas)
	if opts.DryRun {
		return st, nil
	}
	if err := b.CheckConditional(ctx); err != nil {
		return UploadStats{}, err
	}
	up := &uploader{b: b, opts: opts, m: m, etag: etag}
	if up.stale, err = b.Uploads(ctx); err != nil {
		return UploadStats{}, err
	}
	return up.run(ctx, units)
}

// plan lists what parts have beyond m, adding entries to m for arenas
// it has not seen (they are written only with their first objects).
func plan(m *Manifest, parts []*arena.Partition, checkpoint int64) ([]*unit, error) {
	var units []*unit
	for _, p := range parts {
		for _, a0 := range p.Arenas {
			a, err := a0.Snapshot()
			if err != nil {
				return nil, err
			}
			e := m.find(a.Name)
			if e == nil {
				if a.Mem.Clumps == 0 {
					continue // nothing to keep yet
				}
				g := a.Geometry()
				e = &Entry{Name: g.Name, Version: g.Version, BlockSize: g.BlockSize, Size: g.Size,
					ClumpMagic: g.ClumpMagic, Ctime: g.Ctime, Wtime: g.Wtime}
				m.Arenas = append(m.Arenas, e)
			} else if !e.Same(a) {
				return nil, fmt.Errorf("arena %s here is not the arena %s kept there (clump magic %#x, created %d): another venti's copy: %w",
					a.Name, e.Name, e.ClumpMagic, e.Ctime, ErrConflict)
			}
			if e.Sealed {
				continue
			}
			if a.Mem.Sealed && a.Score != (venti.Score{}) {
				units = append(units, &unit{e: e, a: a, sealed: true, used: int64(a.Mem.Used), bytes: a.Stop - a.Start})
				continue
			}
			if a.Mem.Clumps < e.Clumps {
				return nil, fmt.Errorf("arena %s has %d clumps, fewer than the %d kept: %w", a.Name, a.Mem.Clumps, e.Clumps, venti.ErrCorrupt)
			}
			if a.Mem.Clumps == e.Clumps {
				continue
			}
			dir, err := a.ReadDir(0, a.Mem.Clumps)
			if err != nil {
				return nil, err
			}
			if arena.LogEnd(dir[:e.Clumps]) != e.Used {
				return nil, fmt.Errorf("arena %s: its first %d clumps end at %#x, not at %#x as kept: %w", a.Name, e.Clumps, arena.LogEnd(dir[:e.Clumps]), e.Used, venti.ErrCorrupt)
			}
			bs := int64(a.BlockSize)
			c0, used := e.Clumps, e.Used
			for c0 < uint32(len(dir)) {
				c1, end := c0, used
				for c1 < uint32(len(dir)) && (c1 == c0 || end-used < checkpoint) {
					end += arena.ClumpSize + int64(dir[c1].Size)
					c1++
				}
				lo := bs + used
				if c0 == 0 {
					lo = 0 // the first range carries the head
				}
				hi := bs + end
				log, dn := e.rangeNames(lo, hi)
				units = append(units, &unit{e: e, a: a, rng: Range{Lo: lo, Hi: hi, Clumps: c1 - c0, Log: log, Dir: dn},
					dir: arena.MarshalDir(dir[c0:c1]), used: end, bytes: hi - lo})
				c0, used = c1, end
			}
		}
	}
	return units, nil
}

type uploader struct {
	b       *Bucket
	opts    UploadOptions
	m       *Manifest
	etag    string
	stale   map[string]string // unfinished multipart uploads: name to ID
	smu     sync.Mutex        // protects stale
	sent    atomic.Int64
	objects atomic.Int64
	st      UploadStats
	gone    []string // objects no longer named, to remove
}

func (up *uploader) logf(format string, args ...any) {
	if up.opts.Logf != nil {
		up.opts.Logf(format, args...)
	}
}

func (up *uploader) stopped() bool {
	select {
	case <-up.opts.Stop:
		return true
	default:
		return false
	}
}

// take returns the ID of an unfinished upload of name, forgetting it.
func (up *uploader) take(name string) string {
	up.smu.Lock()
	defer up.smu.Unlock()
	id := up.stale[name]
	delete(up.stale, name)
	return id
}

// run stores the units opts.Parallel at a time and records them in
// order: the manifest advances over the completed prefix.
func (up *uploader) run(ctx context.Context, units []*unit) (UploadStats, error) {
	wanted := map[string]bool{}
	for _, u := range units {
		if u.sealed {
			wanted[u.e.arenaName()] = true
		} else {
			wanted[u.rng.Log] = true
		}
	}
	for _, name := range sortedNames(up.stale) {
		if !wanted[name] {
			up.logf("%s: aborting an unfinished upload of %s", up.b, name)
			if err := up.b.Abort(ctx, name, up.take(name)); err != nil {
				up.logf("%v", err)
			}
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make([]chan error, len(units))
	for i := range done {
		done[i] = make(chan error, 1)
	}
	go func() {
		sem := make(chan struct{}, up.opts.Parallel)
		for i, u := range units {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				done[i] <- ctx.Err()
				continue
			}
			if up.stopped() {
				<-sem
				done[i] <- arena.ErrStopped
				continue
			}
			go func() {
				done[i] <- up.store(ctx, u)
				<-sem
			}()
		}
	}()
	var (
		first   error
		pending int64 // bytes recorded since the manifest was written
		dirty   bool
		arenas  = map[string]bool{}
	)
	for i, u := range units {
		err := <-done[i]
		if err != nil {
			if first == nil {
				first = err
				cancel() // the rest would not be recorded
			}
			continue
		}
		if first != nil {
			continue
		}
		up.record(u)
		arenas[u.e.Name] = true
		up.st.Arenas = len(arenas)
		dirty = true
		pending += u.bytes
		if pending >= up.opts.Checkpoint || u.sealed || up.stopped() {
			if err := up.save(ctx); err != nil {
				first = err
				cancel()
				continue
			}
			dirty, pending = false, 0
		}
	}
	if first == nil && up.opts.RootScor != nil {
		changed, err := up.rootscor(ctx)
		if err != nil {
			first = err
		}
		dirty = dirty || changed
	}
	// What was stored and recorded before a failure is kept.
	if dirty {
		if err := up.save(context.WithoutCancel(ctx)); err != nil && first == nil {
			first = err
		}
	}
	up.st.Bytes = up.sent.Load()
	up.st.Objects = int(up.objects.Load())
	if first != nil && errors.Is(first, context.Canceled) && up.stopped() {
		first = arena.ErrStopped
	}
	return up.st, first
}

// record enters a stored unit in the manifest.
func (up *uploader) record(u *unit) {
	e := u.e
	if u.sealed {
		for _, r := range e.Ranges {
			up.gone = append(up.gone, r.Log, r.Dir)
		}
		up.st.Clumps += int64(u.a.Mem.Clumps - e.Clumps)
		e.Ranges = nil
		e.Sealed = true
		e.Object = e.arenaName()
		e.Score = u.a.Score.String()
		e.Clumps = u.a.Mem.Clumps
		e.Used = int64(u.a.Mem.Used)
		e.Wtime = u.a.Wtime
	} else {
		e.Ranges = append(e.Ranges, u.rng)
		e.Clumps += u.rng.Clumps
		e.Used = u.used
		e.Wtime = u.a.Wtime
		up.st.Clumps += int64(u.rng.Clumps)
	}
	up.st.Arena, up.st.Offset = e.Name, e.Used
	if up.opts.Progress != nil {
		up.opts.Progress(Progress{Arena: e.Name, Sent: u.used, Bytes: up.sent.Load(), Clumps: up.st.Clumps})
	}
}

// save writes the manifest, then removes objects it stopped naming.
func (up *uploader) save(ctx context.Context) error {
	etag, err := up.b.saveManifest(ctx, up.m, up.etag)
	if err != nil {
		return err
	}
	up.etag = etag
	if up.opts.Commit != nil {
		up.opts.Commit(up.m)
	}
	for _, name := range up.gone {
		if err := up.b.Delete(ctx, name); err != nil {
			up.logf("%v", err)
		}
	}
	up.gone = nil
	return nil
}

// rootscor stores the root score log, if it changed, and names it.
func (up *uploader) rootscor(ctx context.Context) (bool, error) {
	name := fmt.Sprintf("rootscor/%x", sha1.Sum(up.opts.RootScor))
	if up.m.RootScor == name || len(up.opts.RootScor) == 0 {
		return false, nil
	}
	if _, err := up.b.Put(ctx, name, up.opts.RootScor, Cond{}); err != nil {
		return false, err
	}
	if up.m.RootScor != "" {
		up.gone = append(up.gone, up.m.RootScor)
	}
	up.m.RootScor = name
	return true, nil
}

// store stores one unit's objects.
func (up *uploader) store(ctx context.Context, u *unit) error {
	o := LargeOptions{
		PartSize: up.opts.PartSize,
		Throttle: up.opts.Throttle,
		Sent: func(n int64) {
			t := up.sent.Add(n)
			if up.opts.Progress != nil {
				up.opts.Progress(Progress{Arena: u.e.Name, Sent: u.used, Bytes: t})
			}
		},
		Parallel: 2,
	}
	if u.sealed {
		// The bytes sent are checked against the arena's score as they
		// are read: a disk that lies is not copied.
		r := &summer{a: u.a, h: sha1.New()}
		name := u.e.arenaName()
		if o.Resume = up.take(name); o.Resume != "" {
			up.logf("%s: resuming the upload of %s", up.b, name)
		}
		o.Parallel = 1 // in order, for the sum
		if err := up.b.PutLarge(ctx, name, r, u.bytes, o); err != nil {
			return err
		}
		if err := r.check(); err != nil {
			up.b.Delete(ctx, name)
			return err
		}
		up.objects.Add(1)
		return nil
	}
	if o.Resume = up.take(u.rng.Log); o.Resume != "" {
		up.logf("%s: resuming the upload of %s", up.b, u.rng.Log)
	}
	r := io.NewSectionReader(u.a, u.rng.Lo, u.rng.Hi-u.rng.Lo)
	if err := up.b.PutLarge(ctx, u.rng.Log, r, u.rng.Hi-u.rng.Lo, o); err != nil {
		return err
	}
	if _, err := up.b.Put(ctx, u.rng.Dir, u.dir, Cond{}); err != nil {
		return err
	}
	up.objects.Add(2)
	return nil
}

// A summer reads a sealed arena's bytes in order, hashing them as
// plan9port sums an arena (the score slot as zeros).
type summer struct {
	a   *arena.Arena
	h   hash.Hash
	off int64 // bytes hashed
	bad bool  // read out of order
}

func (s *summer) ReadAt(p []byte, off int64) (int, error) {
	n, err := s.a.ReadAt(p, off)
	if err != nil {
		return n, err
	}
	if off != s.off {
		s.bad = true
		return n, nil
	}
	size := s.a.Stop - s.a.Start
	end := off + int64(n)
	if end > size-venti.ScoreSize {
		k := max(0, size-venti.ScoreSize-off)
		s.h.Write(p[:k])
		s.h.Write(make([]byte, int64(n)-k))
	} else {
		s.h.Write(p[:n])
	}
	s.off = end
	return n, nil
}

func (s *summer) check() error {
	if s.bad || s.off != s.a.Stop-s.a.Start {
		return nil // read twice (a resumed part): the parts' MD5s vouch for it
	}
	var got venti.Score
	s.h.Sum(got[:0])
	if got != s.a.Score {
		return fmt.Errorf("arena %s: %w: its bytes sum to %v, its score is %v", s.a.Name, venti.ErrCorrupt, got, s.a.Score)
	}
	return nil
}
