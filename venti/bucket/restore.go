package bucket

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"replfs/venti/arena"
)

// RestoreStats count a Restore.
type RestoreStats struct {
	Arenas int
	Clumps int64
	Bytes  int64 // arena bytes written
}

// Restore writes the arenas of the copy s serves into a new arena
// partition file at path, laid out as fmtarenas lays one out, each
// arena exactly as the source venti had it (a sealed one byte for byte;
// an unsealed one as far as it was copied). plan9port's venti opens it
// once given an index (fmtisect, fmtindex, buildindex), and so does
// replfs venti serve. The file is written under a temporary name,
// synced, and renamed: path never holds half a partition. It must not
// exist.
func Restore(ctx context.Context, s *Store, path string) (RestoreStats, error) {
	var st RestoreStats
	if _, err := os.Lstat(path); err == nil {
		return st, fmt.Errorf("%s exists: not overwritten", path)
	}
	arenas := s.Arenas()
	if len(arenas) == 0 {
		return st, fmt.Errorf("%s: no arenas", s.b)
	}
	var gs []arena.Geometry
	for _, a := range arenas {
		gs = append(gs, a.Geometry())
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".restore")
	os.Remove(tmp)
	m, err := arena.CreatePartition(tmp, gs[0].BlockSize, gs)
	if err != nil {
		return st, fmt.Errorf("%s: %w", path, err)
	}
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
	}()
	f, err := os.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		return st, err
	}
	defer f.Close()
	buf := make([]byte, 8<<20)
	for i, a := range arenas {
		size := a.Stop - a.Start
		for off := int64(0); off < size; {
			if err := ctx.Err(); err != nil {
				return st, err
			}
			n := min(int64(len(buf)), size-off)
			if _, err := a.ReadAt(buf[:n], off); err != nil {
				return st, err
			}
			if _, err := f.WriteAt(buf[:n], m[i].Start+off); err != nil {
				return st, err
			}
			off += n
		}
		st.Arenas++
		st.Clumps += int64(a.Mem.Clumps)
		st.Bytes += size
	}
	if err := f.Sync(); err != nil {
		return st, err
	}
	if err := f.Close(); err != nil {
		return st, err
	}
	// The restored partition must read back as it was kept.
	p, err := arena.OpenPartition(tmp)
	if err != nil {
		return st, err
	}
	for i, a := range p.Arenas {
		if a.Name != arenas[i].Name || a.Mem != arenas[i].Mem || a.Score != arenas[i].Score {
			p.Close()
			return st, fmt.Errorf("%s: arena %s reads back wrong", path, a.Name)
		}
	}
	p.Close()
	if err := os.Rename(tmp, path); err != nil {
		return st, err
	}
	ok = true
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return st, nil
}
