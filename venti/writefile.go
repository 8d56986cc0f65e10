package venti

import (
	"context"
	"io"
)

// WriteFile stores the bytes of r as a stream: data blocks of dsize
// (zero truncated) under pointer blocks of psize, as libventi's file
// writer lays them out. It never reuses what it hands w. It returns the stream's entry, typ being
// DataType or DirType (for a stream of entries).
func WriteFile(ctx context.Context, w BlockWriter, r io.Reader, typ Type, dsize, psize int) (Entry, error) {
	e := Entry{Gen: 0, Psize: psize, Dsize: dsize, Flags: EntryActive}
	var level []Score // scores of the level being built
	for {
		// A new buffer each time: a Store may keep what it is given.
		buf := make([]byte, dsize)
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			e.Size += uint64(n)
			s, werr := write(ctx, w, typ, ZeroTruncate(typ, buf[:n]))
			if werr != nil {
				return Entry{}, werr
			}
			level = append(level, s)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return Entry{}, err
		}
	}
	depth := 0
	per := psize / ScoreSize
	for len(level) > 1 {
		depth++
		var up []Score
		for i := 0; i < len(level); i += per {
			var b []byte
			for _, s := range level[i:min(i+per, len(level))] {
				b = append(b, s[:]...)
			}
			s, err := write(ctx, w, typ+Type(depth), ZeroTruncate(typ+Type(depth), b))
			if err != nil {
				return Entry{}, err
			}
			up = append(up, s)
		}
		level = up
	}
	e.Type = typ + Type(depth)
	e.Score = ZeroScore
	if len(level) == 1 {
		e.Score = level[0]
	}
	return e, nil
}

// write stores a block, an empty one being ZeroScore without a write,
// as libventi does.
func write(ctx context.Context, w BlockWriter, t Type, b []byte) (Score, error) {
	if len(b) == 0 {
		return ZeroScore, nil
	}
	return w.Write(ctx, t, b)
}
