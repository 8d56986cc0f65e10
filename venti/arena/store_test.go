package arena

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"replfs/venti"
)

// newPartition formats a sparse partition of size bytes in arenas of
// arenaSize and returns its path.
func newPartition(t testing.TB, size, arenaSize int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "arenas.part")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(size)
	f.Close()
	if _, err := Format(p, FormatOptions{ArenaSize: arenaSize}); err != nil {
		t.Fatal(err)
	}
	return p
}

func openStore(t testing.TB, names ...string) *Store {
	t.Helper()
	s, err := Open(context.Background(), names, StoreOptions{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// block returns a distinct pseudo-random block.
func block(i, size int) []byte {
	b := make([]byte, size)
	x := uint64(i)*0x9e3779b97f4a7c15 + 1
	for j := 0; j+8 <= size; j += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		binary.LittleEndian.PutUint64(b[j:], x)
	}
	binary.BigEndian.PutUint32(b, uint32(i))
	return b
}

func TestStoreWriteReadReopen(t *testing.T) {
	path := newPartition(t, 40<<20, 4<<20)
	s := openStore(t, path)
	ctx := context.Background()
	var scores []venti.Score
	for i := range 100 {
		data := block(i, 1000+i*37)
		typ := venti.Type(i % 17)
		sc, err := s.Write(ctx, typ, data)
		if err != nil {
			t.Fatal(err)
		}
		scores = append(scores, sc)
		// Readable at once, from the write buffer.
		rt := typ
		if typ > venti.DataType && typ < venti.DirType {
			rt += venti.DirType
		}
		got, err := s.Read(ctx, sc, rt, venti.MaxLumpSize)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read %d before sync: %v", i, err)
		}
	}
	// A duplicate is not stored twice.
	before := s.arenas[0].Mem.Clumps
	if _, err := s.Write(ctx, venti.DataType, block(0, 1000)); err != nil {
		t.Fatal(err)
	}
	if s.arenas[0].Mem.Clumps != before {
		t.Error("duplicate write stored again")
	}
	if _, err := s.Read(ctx, venti.Sum([]byte("absent")), venti.DataType, 100); !venti.IsNotFound(err) {
		t.Errorf("absent block: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopen: the index is rebuilt from the directory.
	s = openStore(t, path)
	defer s.Close()
	for i, sc := range scores {
		typ := venti.Type(i % 17)
		if typ > venti.DataType && typ < venti.DirType {
			typ += venti.DirType
		}
		got, err := s.Read(ctx, sc, typ, venti.MaxLumpSize)
		if err != nil || !bytes.Equal(got, block(i, 1000+i*37)) {
			t.Errorf("read %d after reopen: %v", i, err)
		}
	}
	// The partition reads as plan9port writes them: every clump verifies.
	p, err := OpenPartition(path)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	n := 0
	end, err := p.Arenas[0].Scan(ctx, 0, func(c *Clump) error { n++; return c.Err })
	if err != nil || n != 100 || end != int64(p.Arenas[0].Mem.Used) {
		t.Errorf("scan: %d clumps, end %d, %v", n, end, err)
	}
	if p.Arenas[0].Disk != (Stats{}) {
		t.Errorf("diskstats changed: %+v", p.Arenas[0].Disk)
	}
}

// TestStoreSeal fills arenas: each seals when a block does not fit, gets
// its score, and writing moves on; with no arenas left writes fail.
func TestStoreSeal(t *testing.T) {
	path := newPartition(t, 256<<10+8192+3<<20+8192*64, 1<<20) // three 1 MiB arenas and change
	s := openStore(t, path)
	ctx := context.Background()
	var n int
	var err error
	for n = 0; n < 1000; n++ {
		if _, err = s.Write(ctx, venti.DataType, block(n, 8192)); err != nil {
			break
		}
	}
	if err == nil || err.Error() != "no space left in arenas" {
		t.Fatalf("after %d blocks: %v", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path)
	// Wait for the summer to score the sealed arenas.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		done := len(s.sumq) == 0
		for _, a := range s.arenas {
			done = done && a.Score != (venti.Score{})
		}
		s.mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := range n {
		if _, err := s.Read(ctx, venti.Sum(block(i, 8192)), venti.DataType, 8192); err != nil {
			t.Errorf("block %d: %v", i, err)
		}
	}
	s.Close()
	p, err := OpenPartition(path)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	total := 0
	for _, a := range p.Arenas {
		if !a.Mem.Sealed {
			t.Errorf("%s not sealed", a.Name)
		}
		if err := a.VerifyScore(); err != nil {
			t.Error(err)
		}
		total += int(a.Mem.Clumps)
	}
	if total != n {
		t.Errorf("%d clumps in arenas, %d written", total, n)
	}
	t.Logf("%d arenas hold %d blocks of 8 KiB", len(p.Arenas), n)
}

// TestStoreRecover: clumps whose log and directory reached the file but
// whose trailer did not (a crash between flush and sync) are found on
// reopen; a torn clump after them is dropped.
func TestStoreRecover(t *testing.T) {
	path := newPartition(t, 40<<20, 4<<20)
	ctx := context.Background()
	s := openStore(t, path)
	for i := range 10 {
		s.Write(ctx, venti.DataType, block(i, 3000))
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 10; i < 25; i++ {
		s.Write(ctx, venti.DataType, block(i, 3000))
	}
	s.mu.Lock()
	a := s.arenas[0]
	s.flushLocked(a) // log written, trailer not: then "crash"
	used := a.Mem.Used
	s.mu.Unlock()
	// A torn clump: a header and half its data.
	hdr := make([]byte, ClumpSize)
	data := block(99, 3000)
	packClump(clumpHeader{dtype: 13, size: 3000, uncsize: 3000, score: venti.Sum(data), encoding: 1}, hdr, a.ClumpMagic)
	a.f.WriteAt(append(hdr, data[:1500]...), a.Base()+int64(used))
	for _, p := range s.parts {
		p.Close() // no Sync, no Close: as if killed
	}

	s = openStore(t, path)
	defer s.Close()
	if got := s.arenas[0].Mem.Clumps; got != 25 {
		t.Errorf("recovered to %d clumps, want 25", got)
	}
	for i := range 25 {
		if _, err := s.Read(ctx, venti.Sum(block(i, 3000)), venti.DataType, 8192); err != nil {
			t.Errorf("block %d: %v", i, err)
		}
	}
	if _, err := s.Read(ctx, venti.Sum(data), venti.DataType, 8192); !venti.IsNotFound(err) {
		t.Errorf("torn block: %v", err)
	}
	// Appending goes on after the recovered clumps, over the torn one.
	if _, err := s.Write(ctx, venti.DataType, block(100, 3000)); err != nil {
		t.Fatal(err)
	}
	s.Sync(ctx)
	p, _ := OpenPartition(path)
	defer p.Close()
	n := 0
	if _, err := p.Arenas[0].Scan(ctx, 0, func(c *Clump) error { n++; return c.Err }); err != nil || n != 26 {
		t.Errorf("scan after recovery: %d clumps, %v", n, err)
	}
}

// TestStoreCorruptRead: a clump damaged on disk is an error naming the
// arena and offset, not data.
func TestStoreCorruptRead(t *testing.T) {
	path := newPartition(t, 40<<20, 4<<20)
	ctx := context.Background()
	s := openStore(t, path)
	sc, _ := s.Write(ctx, venti.DataType, block(1, 5000))
	s.Close()
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	f.WriteAt([]byte("XXXX"), 794624+8192+ClumpSize+100)
	f.Close()
	s = openStore(t, path)
	defer s.Close()
	_, err := s.Read(ctx, sc, venti.DataType, 8192)
	if !errors.Is(err, venti.ErrCorrupt) || err.Error() != fmt.Sprintf("arena arenas00: clump 0x0: corrupt data: mismatched score: want %v got %v", sc, venti.Sum(func() []byte { b := block(1, 5000); copy(b[100:], "XXXX"); return b }())) {
		t.Errorf("corrupt read: %v", err)
	}
	// The damaged clump is forgotten: the block reads as absent, and
	// writing it again stores a good copy.
	if _, err := s.Read(ctx, sc, venti.DataType, 8192); !venti.IsNotFound(err) {
		t.Errorf("read after damage found: %v", err)
	}
	if _, err := s.Write(ctx, venti.DataType, block(1, 5000)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Read(ctx, sc, venti.DataType, 8192); err != nil || !bytes.Equal(got, block(1, 5000)) {
		t.Errorf("read after rewrite: %v", err)
	}
}

// TestIndexMemory: the index stays within 64 bytes a clump however it
// grew, and finds what was put in it.
func TestIndexMemory(t *testing.T) {
	x := newIndex(0)
	var s venti.Score
	for i := 1; i <= 1<<20; i++ {
		binary.BigEndian.PutUint64(s[:], uint64(i)*0x9e3779b97f4a7c15)
		x.insert(s, 13, uint64(i), uint16(i))
		if i >= 1000 && x.bytes() > 64*i {
			t.Fatalf("%d entries take %d bytes", i, x.bytes())
		}
	}
	for i := 1; i <= 1<<20; i += 997 {
		binary.BigEndian.PutUint64(s[:], uint64(i)*0x9e3779b97f4a7c15)
		found := false
		x.lookup(s, 13, func(addr uint64, size uint16) bool {
			found = addr == uint64(i) && size == uint16(i)
			return found
		})
		if !found {
			t.Fatalf("entry %d lost", i)
		}
	}
}

// TestVersion4: arenas of version 4 (fixed clump magic, shorter head and
// trailer) are written and read like version 5 ones.
func TestVersion4(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v4.part")
	f, _ := os.Create(path)
	f.Truncate(12 << 20)
	f.Close()
	if _, err := Format(path, FormatOptions{ArenaSize: 4 << 20, Version: ArenaVersion4}); err != nil {
		t.Fatal(err)
	}
	p, err := OpenPartition(path)
	if err != nil {
		t.Fatal(err)
	}
	a := p.Arenas[0]
	if a.Version != 4 || a.ClumpMagic != ClumpMagic4 || a.HeadErr != nil {
		t.Fatalf("arena %+v", a)
	}
	p.Close()
	ctx := context.Background()
	s := openStore(t, path)
	for i := range 600 {
		if _, err := s.Write(ctx, venti.DataType, block(i, 8000)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = openStore(t, path)
	defer s.Close()
	for i := range 600 {
		if _, err := s.Read(ctx, venti.Sum(block(i, 8000)), venti.DataType, 8192); err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
	}
	p, err = OpenPartition(path)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	n := 0
	for _, a := range p.Arenas {
		if a.Version != 4 {
			t.Errorf("%s: version %d", a.Name, a.Version)
		}
		a.Scan(ctx, 0, func(c *Clump) error {
			if c.Err != nil {
				t.Error(c.Err)
			}
			n++
			return nil
		})
	}
	if n != 600 || !p.Arenas[0].Mem.Sealed {
		t.Errorf("%d clumps; first arena sealed %v", n, p.Arenas[0].Mem.Sealed)
	}
}

// The store compresses what whack shrinks, as venti does: text blocks
// are stored as encoding 2, counted as compressed clumps, read back
// whole, scanned as wrarena would, and survive a reopen; random blocks
// are stored as they are.
func TestStoreCompresses(t *testing.T) {
	path := newPartition(t, 64<<20, 16<<20)
	ctx := context.Background()
	s, err := Open(ctx, []string{path}, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var want [][]byte
	for i := range 200 {
		var b []byte
		if i%2 == 0 {
			b = textBlock(i, 8192)
		} else {
			b = block(i, 8192)
		}
		want = append(want, b)
		if _, err := s.Write(ctx, venti.DataType, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	p, err := OpenPartition(path)
	if err != nil {
		t.Fatal(err)
	}
	a := p.Arenas[0]
	if a.Mem.Clumps != 200 || a.Mem.CClumps != 100 || a.Mem.Uncsize != 200*8192 || a.Mem.Used >= 200*(8192+ClumpSize) {
		t.Errorf("stats %+v", a.Mem)
	}
	n := 0
	if _, err := a.Scan(ctx, 0, func(c *Clump) error {
		if c.Err != nil || !bytes.Equal(c.Data, want[n]) {
			t.Errorf("clump %d: %v", n, c.Err)
		}
		if want := uint8(EncodingNone); n%2 == 0 {
			want = EncodingCompress
			if c.Encoding != want {
				t.Errorf("clump %d encoding %d", n, c.Encoding)
			}
		}
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	p.Close()
	s, err = Open(ctx, []string{path}, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, b := range want {
		got, err := s.Read(ctx, venti.Sum(b), venti.DataType, venti.MaxLumpSize)
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("block %d after reopen: %v", i, err)
		}
	}
	// /index counts them as plan9port's does.
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/index", nil))
	if page := rec.Body.String(); !strings.Contains(page, "written: clumps=200 compressed clumps=100 data=1,638,400 compressed data=") {
		t.Errorf("/index:\n%s", page)
	}
}
