package arena

import (
	"context"
	"crypto/sha1"
	"errors"

	"replfs/venti"
)

// flushLocked writes a's buffered log, followed by the 4 zero bytes
// that end the log, and its new directory entries. It does not fsync
// and does not touch the trailer.
func (s *Store) flushLocked(a *sarena) error {
	if len(a.buf) > 0 {
		b := append(a.buf, 0, 0, 0, 0) // ClumpFreeMagic
		if _, err := a.f.WriteAt(b, a.Base()+a.flushed); err != nil {
			return a.errorf("write log: %w", err)
		}
		a.flushed = int64(a.Mem.Used)
		a.buf = a.buf[:0]
	}
	cm := uint32(a.clumpMax())
	for len(a.dir) > 0 {
		// Entries run forward inside a block; blocks run down from the
		// trailer. Write one block's run at a time.
		c := a.dirFlushed
		k := c / cm
		n := min(uint32(len(a.dir)), cm-c%cm)
		b := make([]byte, int(n)*ClumpInfoSize)
		for i := range n {
			packClumpInfo(a.dir[i], b[int(i)*ClumpInfoSize:])
		}
		off := a.Base() + a.DataSize() - int64(k+1)*int64(a.BlockSize) + int64(c%cm)*ClumpInfoSize
		if _, err := a.f.WriteAt(b, off); err != nil {
			return a.errorf("write directory: %w", err)
		}
		a.dir = a.dir[n:]
		a.dirFlushed += n
	}
	a.dir = a.dir[:0:0]
	return nil
}

// trailerLocked packs a's trailer block as it stands. Diskstats are left
// as found: they say what plan9port's index holds, so a plan9port venti
// given the partition indexes the rest when it starts.
func (s *Store) trailerLocked(a *sarena) []byte {
	b := make([]byte, a.BlockSize)
	packArena(trailer{
		version:    uint32(a.Version),
		name:       a.Name,
		ctime:      a.Ctime,
		wtime:      a.Wtime,
		clumpMagic: a.ClumpMagic,
		disk:       a.Disk,
		mem:        a.Mem,
	}, b)
	copy(b[a.BlockSize-venti.ScoreSize:], a.Score[:])
	return b
}

// putTrailer writes a trailer snapshot of generation gen, unless a newer
// one is already written.
func (a *sarena) putTrailer(b []byte, gen uint64) error {
	a.tmu.Lock()
	defer a.tmu.Unlock()
	if gen <= a.written {
		return nil
	}
	if _, err := a.f.WriteAt(b, a.trailerOffset()); err != nil {
		return a.errorf("write trailer: %w", err)
	}
	a.written = gen
	return nil
}

type pendingTrailer struct {
	a      *sarena
	b      []byte
	gen    uint64
	clumps uint32 // what the trailer counts
	used   uint64
}

// Sync implements venti.Store: every block whose Write has returned is
// on disk, with its directory entry and a trailer that counts it, when
// Sync returns. The log and directory are made durable before the
// trailers that point into them.
func (s *Store) Sync(ctx context.Context) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errClosed
	}
	var todo []pendingTrailer
	files := map[*file]bool{}
	for _, a := range s.arenas {
		if a.gen == a.synced {
			continue
		}
		if err := s.flushLocked(a); err != nil {
			s.mu.Unlock()
			return err
		}
		todo = append(todo, pendingTrailer{a, s.trailerLocked(a), a.gen, a.Mem.Clumps, a.Mem.Used})
		a.synced = a.gen
		files[a.f] = true
	}
	save := s.opts.IndexFile != "" && s.idx.n >= s.opts.SaveEvery
	s.mu.Unlock()
	if err := s.commit(todo, files); err != nil {
		return err
	}
	if save {
		// Not the sync's failure: the blocks are durable, and the index
		// is rebuilt from them if the file is lost.
		if err := s.saveIndex(); err != nil {
			s.logf("index %s: %v", s.opts.IndexFile, err)
		}
	}
	return nil
}

// commit fsyncs the files, writes the trailers and fsyncs again.
func (s *Store) commit(todo []pendingTrailer, files map[*file]bool) error {
	for f := range files {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	for _, t := range todo {
		if err := t.a.putTrailer(t.b, t.gen); err != nil {
			return err
		}
	}
	for f := range files {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	for _, t := range todo {
		t.a.dmu.Lock()
		if t.used > t.a.durUsed {
			t.a.durClumps, t.a.durUsed = t.clumps, t.used
		}
		t.a.dmu.Unlock()
	}
	return nil
}

// sealLocked seals a full arena: flushes it, marks it sealed, makes that
// durable, and queues it for its score. Nothing is appended to it again.
func (s *Store) sealLocked(a *sarena) error {
	if a.Mem.Sealed {
		return nil
	}
	if err := s.flushLocked(a); err != nil {
		return err
	}
	a.Mem.Sealed = true
	a.gen++
	a.synced = a.gen
	s.logf("seal memstats %s", a.Name)
	if err := s.commit([]pendingTrailer{{a, s.trailerLocked(a), a.gen, a.Mem.Clumps, a.Mem.Used}}, map[*file]bool{a.f: true}); err != nil {
		return err
	}
	s.sumq = append(s.sumq, a)
	s.kick()
	return nil
}

func (s *Store) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// summer computes the scores of sealed arenas in the background, as
// venti's sumarena does, and writes them into the trailers.
func (s *Store) summer() {
	defer close(s.stopped)
	for {
		s.mu.Lock()
		var a *sarena
		if len(s.sumq) > 0 {
			a, s.sumq = s.sumq[0], s.sumq[1:]
		}
		s.mu.Unlock()
		if a == nil {
			select {
			case <-s.wake:
				continue
			case <-s.stop:
				return
			}
		}
		score, err := s.sum(a)
		if err != nil {
			if !errors.Is(err, errClosed) {
				s.logf("sumarena %s: %v", a.Name, err)
			}
			continue
		}
		s.mu.Lock()
		a.Score = score
		a.gen++
		a.synced = a.gen
		t := pendingTrailer{a, s.trailerLocked(a), a.gen, a.Mem.Clumps, a.Mem.Used}
		s.mu.Unlock()
		if err := s.commit([]pendingTrailer{t}, map[*file]bool{a.f: true}); err != nil {
			s.logf("sumarena %s: %v", a.Name, err)
		}
	}
}

// sum is ComputeScore, stopping early when the Store closes. A sealed
// arena does not change, so it runs without the lock.
func (s *Store) sum(a *sarena) (venti.Score, error) {
	h := sha1.New()
	end := a.Stop - venti.ScoreSize
	buf := make([]byte, 1<<20)
	for off := a.Start; off < end; {
		select {
		case <-s.stop:
			return venti.Score{}, errClosed
		default:
		}
		n := min(int64(len(buf)), end-off)
		if _, err := a.f.ReadAt(buf[:n], off); err != nil {
			return venti.Score{}, err
		}
		h.Write(buf[:n])
		off += n
	}
	h.Write(make([]byte, venti.ScoreSize))
	var sc venti.Score
	h.Sum(sc[:0])
	return sc, nil
}

// Close syncs the store, stops the background summing and closes the
// partitions. A sealed arena whose score was not finished is summed
// again when the store is next opened.
func (s *Store) Close() error {
	err := s.Sync(context.Background())
	if err == nil {
		if serr := s.saveIndex(); serr != nil {
			s.logf("index %s: %v", s.opts.IndexFile, serr)
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errClosed
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	<-s.stopped
	<-s.graphed
	for _, p := range s.parts {
		if cerr := p.Close(); err == nil {
			err = cerr
		}
	}
	s.saved.close()
	return err
}
