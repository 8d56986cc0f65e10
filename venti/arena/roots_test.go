package arena

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"strings"
	"testing"
	"time"

	"replfs/venti"
	"replfs/venti/ventitest"
)

// TestRootsFixture: the roots of plan9port's arenas are exactly those
// roots.txt lists, with their arena, clump number and offset; arenas00
// is sealed, arenas01 (which holds them) is not.
func TestRootsFixture(t *testing.T) {
	p, _ := fixturePart(t)
	want := ventitest.FixtureRoots(t)
	got, err := p.Roots(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d roots, want %d: %+v", len(got), len(want), got)
	}
	a1 := p.Arena("arenas01")
	var last uint32
	for i, w := range want {
		g := got[i]
		if g.Err != nil {
			t.Errorf("%s: %v", w.What, g.Err)
		}
		if g.Score != w.Score || g.Root != w.Root || g.Arena != w.Arena || g.Index != w.Index || g.Offset != w.Offset {
			t.Errorf("root %d: got %+v\nwant %+v", i, g, w)
		}
		// roots.txt does not give the clump times: they are within the
		// arena's life, in order.
		if g.Time < a1.Ctime || g.Time > a1.Wtime || g.Time < last {
			t.Errorf("%s: time %d outside [%d,%d] or before %d", w.What, g.Time, a1.Ctime, a1.Wtime, last)
		}
		last = g.Time
	}
}

// rootsStore writes, through a Store on small arenas, rounds of nblk
// data blocks of size bytes followed by a root whose prev is the last
// one, until nroots roots, and returns the path and the roots' blocks in
// order. Clump times count up from 1800000000 by one per write.
func rootsStore(t testing.TB, size, arenaSize int64, nroots, nblk, bsize int) (string, [][]byte) {
	t.Helper()
	path := newPartition(t, size, arenaSize)
	now := int64(1800000000)
	// Uncompressed: the corruption tests patch a root clump's bytes.
	s, err := Open(context.Background(), []string{path}, StoreOptions{NoCompress: true, Now: func() time.Time {
		now++
		return time.Unix(now, 0)
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var roots [][]byte
	var prev venti.Score
	n := 0
	for r := range nroots {
		for range nblk {
			if _, err := s.Write(ctx, venti.DataType, block(n, bsize)); err != nil {
				t.Fatal(err)
			}
			n++
		}
		rb, err := venti.Root{Name: "test", Type: "vac", Score: venti.Sum(block(n-1, bsize)), BlockSize: 8192, Prev: prev}.Pack()
		if err != nil {
			t.Fatal(err)
		}
		binary.BigEndian.PutUint32(rb[100:], uint32(r)) // in the name's padding: distinct roots
		if prev, err = s.Write(ctx, venti.RootType, rb); err != nil {
			t.Fatal(err)
		}
		roots = append(roots, rb)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path, roots
}

// TestRootsStore: roots in sealed and unsealed arenas of our own store
// are found, and agree with a full Scan of the logs.
func TestRootsStore(t *testing.T) {
	path, roots := rootsStore(t, 12<<20, 1<<20, 40, 20, 8192)
	p, err := OpenPartition(path)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	got, err := p.Roots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(roots) {
		t.Fatalf("%d roots, want %d", len(got), len(roots))
	}
	sealed := map[bool]int{}
	for i, g := range got {
		a := p.Arena(g.Arena)
		sealed[a.Mem.Sealed]++
		want, _ := venti.UnpackRoot(roots[i])
		if g.Err != nil || g.Score != venti.Sum(roots[i]) || g.Root != want {
			t.Errorf("root %d: %+v %v", i, g, g.Err)
		}
	}
	if sealed[true] == 0 || sealed[false] == 0 {
		t.Fatalf("roots in sealed and unsealed arenas: %v", sealed)
	}
	// The full scan's root clumps are the same, at the same places.
	var scanned []RootClump
	for _, a := range p.Arenas {
		if a.Mem.Clumps == 0 {
			continue
		}
		_, err := a.Scan(ctx, 0, func(c *Clump) error {
			if c.Err != nil {
				return c.Err
			}
			if c.Type == venti.RootType {
				r, err := venti.UnpackRoot(c.Data)
				if err != nil {
					return err
				}
				scanned = append(scanned, RootClump{Score: c.Score, Root: r, Time: c.Time, Arena: a.Name, Index: c.Index, Offset: c.Offset})
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range scanned {
		if scanned[i] != got[i] {
			t.Errorf("root %d: Scan %+v, Roots %+v", i, scanned[i], got[i])
		}
	}
	if got[0].Time != 1800000021 || got[1].Time != 1800000042 {
		t.Errorf("times %d %d", got[0].Time, got[1].Time)
	}
	// A cancelled context stops the walk.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.Roots(cctx); err != context.Canceled {
		t.Errorf("cancelled: %v", err)
	}
}

// TestReader reads every block of a store back through a read-only
// Reader, near the last root and far from it.
func TestReader(t *testing.T) {
	path, roots := rootsStore(t, 8<<20, 1<<20, 20, 40, 3000)
	before, _ := os.ReadFile(path)
	p, err := OpenPartition(path)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	for _, near := range []string{"", "arenas00", "nosuch"} {
		r := NewReader(p.Arenas, near)
		for i := range 800 {
			want := block(i, 3000)
			got, err := r.Read(ctx, venti.Sum(want), venti.DataType, 8192)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("near %q: block %d: %v", near, i, err)
			}
		}
		for _, rb := range roots {
			got, err := r.Read(ctx, venti.Sum(rb), venti.RootType, venti.RootSize)
			if err != nil || !bytes.Equal(got, rb) {
				t.Fatalf("near %q: root: %v", near, err)
			}
		}
		// The right score with the wrong type, and a missing block.
		if _, err := r.Read(ctx, venti.Sum(roots[0]), venti.DataType, 8192); !venti.IsNotFound(err) {
			t.Errorf("wrong type: %v", err)
		}
		if _, err := r.Read(ctx, venti.Sum([]byte("missing")), venti.DataType, 8192); !venti.IsNotFound(err) {
			t.Errorf("missing: %v", err)
		}
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("reading changed the partition")
	}
}

// patchFile writes b at off of the file at path.
func patchFile(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// dirEntryOffset returns the partition offset of clump i's directory
// entry in a.
func dirEntryOffset(a *Arena, i uint32) int64 {
	cm := uint32(a.clumpMax())
	return a.Base() + a.DataSize() - int64(i/cm+1)*int64(a.BlockSize) + int64(i%cm)*ClumpInfoSize
}

// TestRootsCorrupt: a damaged or hostile partition gives errors, never a
// panic or an allocation the size of its claims.
func TestRootsCorrupt(t *testing.T) {
	orig, _ := rootsStore(t, 4<<20, 1<<20, 6, 20, 8192)
	good, err := OpenPartition(orig)
	if err != nil {
		t.Fatal(err)
	}
	roots, err := good.Roots(context.Background())
	good.Close()
	if err != nil || len(roots) != 6 {
		t.Fatalf("%d roots, %v", len(roots), err)
	}
	a0 := good.Arenas[0]
	r0 := roots[0]
	tr := a0.trailerOffset()
	be := func(n int, v uint64) []byte {
		b := make([]byte, 8)
		binary.BigEndian.PutUint64(b, v)
		return b[8-n:]
	}
	for _, tt := range []struct {
		name  string
		off   int64
		patch []byte
		open  string // error from OpenPartition
		walk  string // error from Roots
		root  string // Err of the first root
	}{
		{name: "root data", off: a0.Base() + r0.Offset + ClumpSize + 5, patch: []byte{0xff}, root: "mismatched score"},
		{name: "root magic", off: a0.Base() + r0.Offset, patch: []byte{0, 0}, root: "bad magic"},
		{name: "root header size", off: a0.Base() + r0.Offset + 5, patch: append(be(2, 301), be(2, 301)...), root: "header disagrees"},
		{name: "root encoding", off: a0.Base() + r0.Offset + 29, patch: []byte{2}, root: "inconsistent block sizes"},
		{name: "dir size", off: dirEntryOffset(a0, 0) + 1, patch: be(2, 0xffff), walk: "directory runs past used", root: "bad magic"},
		{name: "dir all past used", off: dirEntryOffset(a0, 20) + 1, patch: be(2, 0xffff), walk: "directory runs past used at clump"},
		{name: "dir data as root", off: dirEntryOffset(a0, 0), patch: []byte{diskRootType}, root: "header disagrees"},
		{name: "clumps huge", off: tr + 110, patch: be(4, 0xffffffff), open: "used > size"},
		{name: "used huge", off: tr + 118, patch: be(8, 1<<62), open: "used > size"},
		{name: "used small", off: tr + 118, patch: be(8, 100), walk: "directory runs past used at clump 0 (0x0)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := t.TempDir() + "/arenas.part"
			b, _ := os.ReadFile(orig)
			os.WriteFile(path, b, 0600)
			patchFile(t, path, tt.off, tt.patch)
			p, err := OpenPartition(path)
			if tt.open != "" {
				if err == nil || !strings.Contains(err.Error(), tt.open) {
					t.Fatalf("open: %v, want %q", err, tt.open)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			got, err := p.Roots(context.Background())
			if (tt.walk == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.walk)) {
				t.Fatalf("walk: %v, want %q", err, tt.walk)
			}
			if tt.root != "" {
				if len(got) == 0 || got[0].Err == nil || !strings.Contains(got[0].Err.Error(), tt.root) {
					t.Fatalf("roots %+v, want error %q", got, tt.root)
				}
				if !strings.HasPrefix(got[0].Err.Error(), "arena arenas00: clump ") {
					t.Errorf("error %q does not say where", got[0].Err)
				}
			}
			for _, r := range got {
				if r.Err == nil && r.Root.Name != "test" {
					t.Errorf("a root that is not one: %+v", r)
				}
			}
		})
	}
}

// FuzzRoots damages a small partition of our store (anywhere in its
// first arena, or in that arena's directory and trailer) and looks for
// roots in it, and reads the blocks the roots name.
func FuzzRoots(f *testing.F) {
	orig, _ := rootsStore(f, 3<<20, 1<<20, 6, 10, 8192)
	base, err := os.ReadFile(orig)
	if err != nil {
		f.Fatal(err)
	}
	p, err := OpenPartition(orig)
	if err != nil {
		f.Fatal(err)
	}
	a0 := p.Arenas[0]
	start, stop, bs := a0.Start, a0.Stop, int64(a0.BlockSize)
	p.Close()
	f.Add([]byte{0xff}, uint32(0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, uint32(1+2*110))
	f.Add([]byte{1}, uint32(1+2*(bs+ClumpInfoSize*3-1)))
	f.Add([]byte{0, 0}, uint32(8192+200))
	path := f.TempDir() + "/fuzz.part"
	f.Fuzz(func(t *testing.T, patch []byte, at uint32) {
		if len(patch) > 4096 {
			patch = patch[:4096]
		}
		b := bytes.Clone(base)
		off := start + int64(at>>1)%(stop-start)
		if at&1 != 0 {
			off = stop - 1 - int64(at>>1)%(3*bs) // the trailer and the first two directory blocks
		}
		copy(b[off:], patch)
		if err := os.WriteFile(path, b, 0600); err != nil {
			t.Fatal(err)
		}
		p, err := OpenPartition(path)
		if err != nil {
			return
		}
		defer p.Close()
		ctx := context.Background()
		roots, _ := p.Roots(ctx)
		r := NewReader(p.Arenas, "")
		for _, rc := range roots {
			if rc.Err != nil {
				continue
			}
			r.Read(ctx, rc.Score, venti.RootType, venti.RootSize)
			r.Read(ctx, rc.Root.Score, venti.DataType, 8192)
		}
	})
}
