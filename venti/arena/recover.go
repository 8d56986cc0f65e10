package arena

import "replfs/venti"

// recoverArena finds clumps appended to an unsealed arena after its
// trailer was last written, as plan9port's syncarena does: from
// memstats.used it reads clump after clump while the magic is the
// arena's, the clump fits, and its data matches its score, and adds each
// to the directory. A torn last clump is dropped. The log is then ended
// with ClumpFreeMagic and the trailer updated.
func (s *Store) recoverArena(a *sarena) error {
	var found []ClumpInfo
	used := int64(a.Mem.Used)
	st := a.Mem
	hb := make([]byte, ClumpSize)
	ended := false // the log already ends with ClumpFreeMagic
	for {
		if used+ClumpSize+4 > a.DataSize() {
			break
		}
		if _, err := a.f.ReadAt(hb, a.Base()+used); err != nil {
			return a.errorf("recover: %w", err)
		}
		if m := be32(hb); m != a.ClumpMagic {
			ended = m == ClumpFreeMagic
			break // ClumpFreeMagic, or anything else: the log ends here
		}
		h, err := unpackClump(hb, a.ClumpMagic)
		if err != nil {
			break
		}
		n := int64(ClumpSize) + int64(h.size)
		if used+n+4+4+a.dirSize(st.Clumps+1) > a.DataSize() {
			break
		}
		raw := make([]byte, h.size)
		if _, err := a.f.ReadAt(raw, a.Base()+used+ClumpSize); err != nil {
			return a.errorf("recover: %w", err)
		}
		if _, err := decodeClump(h, raw); err != nil || h.Type() == venti.CorruptType {
			break // a clump torn by a crash
		}
		found = append(found, ClumpInfo{h.dtype, h.size, h.uncsize, h.score})
		used += n
		st.Used = uint64(used)
		st.Clumps++
		st.Uncsize += uint64(h.uncsize)
		if h.encoding == EncodingCompress {
			st.CClumps++
		}
		if h.time > a.Wtime {
			a.Wtime = h.time
		}
	}
	// End the log, whatever follows it.
	if !ended && used+4 <= a.DataSize() {
		if _, err := a.f.WriteAt([]byte{0, 0, 0, 0}, a.Base()+used); err != nil {
			return a.errorf("recover: %w", err)
		}
	}
	if len(found) == 0 {
		return nil
	}
	s.logf("arena %s: recovered %d clumps, used %d->%d", a.Name, len(found), a.Mem.Used, used)
	a.Mem = st
	if a.Ctime == 0 {
		a.Ctime = a.Wtime
	}
	a.flushed = used
	a.dir = found
	a.gen++
	if err := s.flushLocked(a); err != nil {
		return err
	}
	a.synced = a.gen
	return s.commit([]pendingTrailer{{a, s.trailerLocked(a), a.gen, a.Mem.Clumps, a.Mem.Used}}, map[*file]bool{a.f: true})
}
