package arena

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"replfs/venti"
)

func openIndexed(t testing.TB, path, index string, logs *strings.Builder, save int) *Store {
	t.Helper()
	var mu sync.Mutex
	s, err := Open(context.Background(), []string{path}, StoreOptions{IndexFile: index, SaveEvery: save,
		Logf: func(f string, a ...any) {
			mu.Lock()
			fmt.Fprintf(logs, f+"\n", a...)
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeBlocks(t testing.TB, s *Store, from, n int) {
	t.Helper()
	ctx := context.Background()
	for i := from; i < from+n; i++ {
		if _, err := s.Write(ctx, venti.DataType, block(i, 200+i%500)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

func readBlocks(t testing.TB, s *Store, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		b := block(i, 200+i%500)
		got, err := s.Read(ctx, venti.Sum(b), venti.DataType, venti.MaxLumpSize)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("block %d: %v", i, err)
		}
	}
}

// The index file is used on reopen: only clumps written after it was
// saved are indexed from the arenas; it agrees with the arenas; absent
// blocks are mostly answered by the bloom filter; a file that does not
// check out is rebuilt.
func TestSavedIndex(t *testing.T) {
	path := newPartition(t, 64<<20, 8<<20)
	index := filepath.Join(t.TempDir(), "arenas.index")
	var logs strings.Builder
	s := openIndexed(t, path, index, &logs, 0)
	writeBlocks(t, s, 0, 20000)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openIndexed(t, path, index, &logs, 0)
	if s.saved == nil || s.saved.n != 20000 || s.idx.n != 0 {
		t.Fatalf("reopened: saved %v, %d in memory", s.saved != nil, s.idx.n)
	}
	readBlocks(t, s, 20000)
	if _, err := s.verifyIndex(); err != nil {
		t.Fatal(err)
	}
	// Absent blocks: the filter answers nearly all without a read.
	maybe := 0
	for i := range 10000 {
		if s.saved.mayHave(ikey(venti.Sum([]byte(fmt.Sprint("absent", i))), 0)) {
			maybe++
		}
	}
	if maybe > 500 {
		t.Errorf("%d of 10000 absent blocks pass the filter", maybe)
	}
	// Written after the save, synced, not saved: only those are read
	// from the arenas at the next open (as after a crash).
	writeBlocks(t, s, 20000, 3000)
	s.Sync(context.Background())
	// Left as a crash leaves it: no Close.
	s2 := openIndexed(t, path, index, &logs, 0)
	if s2.saved == nil || s2.idx.n != 3000 {
		t.Fatalf("after a crash: saved %v, %d in memory", s2.saved != nil, s2.idx.n)
	}
	readBlocks(t, s2, 23000)
	if _, err := s2.verifyIndex(); err != nil {
		t.Fatal(err)
	}
	s2.Close()

	// Damaged files are not trusted.
	good, _ := os.ReadFile(index)
	for name, bad := range map[string][]byte{
		"truncated": good[:len(good)-100],
		"flipped":   append(append([]byte{}, good[:20]...), append([]byte{good[20] ^ 1}, good[21:]...)...),
		"empty":     {},
		"garbage":   bytes.Repeat([]byte("x"), 5000),
	} {
		os.WriteFile(index, bad, 0600)
		logs.Reset()
		s := openIndexed(t, path, index, &logs, 0)
		if !strings.Contains(logs.String(), "rebuilding it from the arenas") {
			t.Errorf("%s index: not rebuilt: %s", name, logs.String())
		}
		readBlocks(t, s, 23000)
		if _, err := s.verifyIndex(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		s.Close()
	}
	// An index of other arenas (the partition reformatted) is stale.
	os.WriteFile(index, good, 0600)
	path2 := newPartition(t, 64<<20, 8<<20)
	logs.Reset()
	s3 := openIndexed(t, path2, index, &logs, 0)
	if !strings.Contains(logs.String(), "is not the one indexed") {
		t.Errorf("another partition's index: %s", logs.String())
	}
	if _, err := s3.verifyIndex(); err != nil {
		t.Error(err)
	}
	s3.Close()
}

// Saves made by Sync while writes go on lose nothing: the index always
// agrees with the arenas.
func TestSavedIndexUnderWrites(t *testing.T) {
	path := newPartition(t, 64<<20, 8<<20)
	index := filepath.Join(t.TempDir(), "arenas.index")
	var logs strings.Builder
	s := openIndexed(t, path, index, &logs, 500)
	ctx := context.Background()
	var wg sync.WaitGroup
	// Readers go on too, through the saved index as it is replaced.
	done := make(chan struct{})
	var rg sync.WaitGroup
	for range 2 {
		rg.Go(func() {
			for i := 0; ; i = (i + 7) % 12000 {
				select {
				case <-done:
					return
				default:
				}
				b := block(i, 200+i%500)
				if got, err := s.Read(ctx, venti.Sum(b), venti.DataType, venti.MaxLumpSize); err == nil && !bytes.Equal(got, b) {
					t.Errorf("block %d read back wrong", i)
					return
				}
			}
		})
	}
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < 12000; i += 4 {
				if _, err := s.Write(ctx, venti.DataType, block(i, 200+i%500)); err != nil {
					t.Error(err)
					return
				}
				if i%1000 == g {
					s.Sync(ctx)
				}
			}
		})
	}
	wg.Wait()
	close(done)
	rg.Wait()
	s.Sync(ctx)
	if s.saved == nil {
		t.Fatal("never saved")
	}
	if _, err := s.verifyIndex(); err != nil {
		t.Fatal(err)
	}
	readBlocks(t, s, 12000)
	s.Close()
	s = openIndexed(t, path, index, &logs, 500)
	defer s.Close()
	if _, err := s.verifyIndex(); err != nil {
		t.Fatal(err)
	}
	readBlocks(t, s, 12000)
}

// Entries of a damaged file that point outside the log are passed
// over, never followed: no panic, the block reads as absent or from
// its good entry.
func TestSavedIndexBadEntries(t *testing.T) {
	path := newPartition(t, 64<<20, 8<<20)
	index := filepath.Join(t.TempDir(), "arenas.index")
	var logs strings.Builder
	s := openIndexed(t, path, index, &logs, 0)
	writeBlocks(t, s, 0, 2000)
	s.Close()
	b, _ := os.ReadFile(index)
	x, err := openSaved(index, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := x.base
	x.close()
	// Every entry's address made huge or tiny.
	for i := int64(0); i < 2000; i++ {
		o := base + i*entrySize + 8
		if i%2 == 0 {
			copy(b[o:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 100})
		} else {
			copy(b[o:], []byte{0, 0, 0, 0, 0, 1, 0, 100})
		}
	}
	os.WriteFile(index, b, 0600)
	s = openIndexed(t, path, index, &logs, 0)
	defer s.Close()
	ctx := context.Background()
	for i := range 2000 {
		blk := block(i, 200+i%500)
		if _, err := s.Read(ctx, venti.Sum(blk), venti.DataType, venti.MaxLumpSize); err == nil {
			t.Fatalf("block %d read through a damaged entry", i)
		}
		// Writing it again stores it afresh.
		if _, err := s.Write(ctx, venti.DataType, blk); err != nil {
			t.Fatal(err)
		}
	}
}
