package ventitest

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"

	"replfs/venti"
)

// MakeTree writes a tree for copy and verify tests: a root over a
// directory block of nfiles entries, each a stream of size random bytes
// in 8 KiB blocks under pointer blocks (a file of 1 MiB has one level),
// plus one file of zeros and one that repeats a block. It returns the
// root's score. The same seed gives the same tree.
func MakeTree(ctx context.Context, w venti.BlockWriter, nfiles, size int, seed uint64) (venti.Score, error) {
	var dir []byte
	add := func(data []byte) error {
		e, err := venti.WriteFile(ctx, w, bytes.NewReader(data), venti.DataType, 8192, 8180)
		if err != nil {
			return err
		}
		b := make([]byte, venti.EntrySize)
		if err := e.Pack(b); err != nil {
			return err
		}
		dir = append(dir, b...)
		return nil
	}
	for i := range nfiles {
		r := rand.New(rand.NewPCG(seed, uint64(i)))
		data := make([]byte, size)
		for j := 0; j+8 <= size; j += 8 {
			binary.LittleEndian.PutUint64(data[j:], r.Uint64())
		}
		if err := add(data); err != nil {
			return venti.Score{}, err
		}
	}
	if err := add(make([]byte, 3*8192)); err != nil { // zeros: zero scores
		return venti.Score{}, err
	}
	rep := bytes.Repeat([]byte{byte(seed)}, 8192)
	if err := add(bytes.Repeat(rep, 4)); err != nil { // one block four times
		return venti.Score{}, err
	}
	ds, err := w.Write(ctx, venti.DirType, venti.ZeroTruncate(venti.DirType, dir))
	if err != nil {
		return venti.Score{}, err
	}
	rb, err := venti.Root{Name: "test", Type: "vac", Score: ds, BlockSize: 8192}.Pack()
	if err != nil {
		return venti.Score{}, err
	}
	return w.Write(ctx, venti.RootType, rb)
}
