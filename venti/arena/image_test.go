package arena

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"replfs/venti"
)

// rebuild makes the image of arena a as far as its first n clumps, the
// way a copy kept as head, log ranges and directory rebuilds it.
func rebuild(t *testing.T, a *Arena, n uint32) []byte {
	t.Helper()
	g := a.Geometry()
	dir, err := a.ReadDir(0, n)
	if err != nil {
		t.Fatal(err)
	}
	img := make([]byte, g.Size)
	end := int64(a.BlockSize) + LogEnd(dir)
	if _, err := a.ReadAt(img[:end], 0); err != nil {
		t.Fatal(err)
	}
	tail, err := g.Tail(dir)
	if err != nil {
		t.Fatal(err)
	}
	copy(img[g.Size-int64(len(tail)):], tail)
	return img
}

func scanAll(t *testing.T, a *Arena) []venti.Score {
	t.Helper()
	var out []venti.Score
	_, err := a.Scan(context.Background(), 0, func(c *Clump) error {
		if c.Err != nil {
			t.Errorf("clump %#x: %v", c.Offset, c.Err)
		}
		out = append(out, c.Score)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// An arena rebuilt from its head, log and directory reads as the
// original does, and a whole sealed arena's bytes open as an image with
// the same score.
func TestImage(t *testing.T) {
	p, _ := fixturePart(t)
	for _, a := range p.Arenas[:2] {
		want := scanAll(t, a)
		for _, n := range []uint32{0, a.Mem.Clumps / 3, a.Mem.Clumps} {
			img := rebuild(t, a, n)
			b, err := OpenImage(a.Name, bytes.NewReader(img), int64(len(img)))
			if err != nil {
				t.Fatalf("%s to %d: %v", a.Name, n, err)
			}
			if b.HeadErr != nil || b.Name != a.Name || b.ClumpMagic != a.ClumpMagic || b.Mem.Clumps != n || b.Mem.Sealed {
				t.Errorf("%s to %d: %+v", a.Name, n, b)
			}
			got := scanAll(t, b)
			if !slicesEqual(got, want[:n]) {
				t.Errorf("%s to %d: scan gives %d clumps, want %d", a.Name, n, len(got), n)
			}
			if n == a.Mem.Clumps && b.Mem.Used != a.Mem.Used {
				t.Errorf("%s: used %d, want %d", a.Name, b.Mem.Used, a.Mem.Used)
			}
		}
	}
	a := p.Arenas[0]
	raw := make([]byte, a.Stop-a.Start)
	if _, err := a.ReadAt(raw, 0); err != nil {
		t.Fatal(err)
	}
	b, err := OpenImage("x", bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if !b.Mem.Sealed || b.Score != a.Score {
		t.Errorf("sealed image: sealed %v score %v, want %v", b.Mem.Sealed, b.Score, a.Score)
	}
	if err := b.VerifyScore(); err != nil {
		t.Error(err)
	}
	if _, err := OpenImage("x", bytes.NewReader(raw[:len(raw)-8192]), int64(len(raw)-8192)); err == nil {
		t.Error("a short image opened")
	}
	if _, err := a.ReadAt(make([]byte, 10), a.Stop-a.Start-5); err == nil {
		t.Error("read past the arena's end")
	}
}

func slicesEqual(a, b []venti.Score) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Arenas written into a created partition open as a partition with the
// same clumps.
func TestCreatePartition(t *testing.T) {
	p, _ := fixturePart(t)
	src := p.Arenas[:2]
	var gs []Geometry
	for _, a := range src {
		gs = append(gs, a.Geometry())
	}
	path := filepath.Join(t.TempDir(), "restored")
	m, err := CreatePartition(path, p.BlockSize, gs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CreatePartition(path, p.BlockSize, gs); err == nil {
		t.Error("CreatePartition overwrote a file")
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range src {
		var img []byte
		if a.Mem.Sealed {
			img = make([]byte, a.Stop-a.Start)
			a.ReadAt(img, 0)
		} else {
			img = rebuild(t, a, a.Mem.Clumps)
		}
		if _, err := f.WriteAt(img, m[i].Start); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	q, err := OpenPartition(path)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if len(q.Arenas) != 2 || q.ArenaBase != p.ArenaBase {
		t.Fatalf("%d arenas at %d", len(q.Arenas), q.ArenaBase)
	}
	for i, a := range q.Arenas {
		if a.Name != src[i].Name || a.Mem != src[i].Mem && !src[i].Mem.Sealed {
			t.Errorf("arena %d: %s %+v, want %s %+v", i, a.Name, a.Mem, src[i].Name, src[i].Mem)
		}
		if !slicesEqual(scanAll(t, a), scanAll(t, src[i])) {
			t.Errorf("arena %s: clumps differ", a.Name)
		}
	}
	if err := q.Arenas[0].VerifyScore(); err != nil {
		t.Error(err)
	}
	bad := gs[0]
	bad.Name = "bad\nname"
	if _, err := CreatePartition(path+"2", p.BlockSize, []Geometry{bad}); err == nil {
		t.Error("bad name accepted")
	}
}
