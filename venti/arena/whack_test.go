package arena

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strings"
	"testing"
)

// Every clump plan9port's venti stored compressed in the fixture, our
// whack of its block gives byte for byte; every block of the fixture
// round-trips through our whack and unwhack; the blocks plan9port left
// uncompressed do not shrink with ours either.
func TestWhackFixture(t *testing.T) {
	p, _ := fixturePart(t)
	var same, comp, stored int
	var ourBytes, theirBytes int64
	for _, a := range p.Arenas {
		if a.Mem.Clumps == 0 {
			continue
		}
		dir, err := a.ReadDir(0, a.Mem.Clumps)
		if err != nil {
			t.Fatal(err)
		}
		var off int64
		for _, ci := range dir {
			raw := make([]byte, ClumpSize+int(ci.Size))
			if _, err := a.ReadAt(raw, int64(a.BlockSize)+off); err != nil {
				t.Fatal(err)
			}
			off += int64(len(raw))
			h, err := unpackClump(raw, a.ClumpMagic)
			if err != nil {
				t.Fatal(err)
			}
			data, err := decodeClump(h, raw[ClumpSize:])
			if err != nil {
				t.Fatal(err)
			}
			dst := make([]byte, len(data))
			n := whack(dst, data)
			if n > 0 {
				back := make([]byte, len(data))
				if m, err := unwhack(back, dst[:n]); err != nil || m != len(data) || !bytes.Equal(back, data) {
					t.Fatalf("clump at %#x: round trip: %d %v", off, m, err)
				}
			}
			if h.encoding == EncodingCompress {
				comp++
				theirBytes += int64(h.size)
				if n > 0 && bytes.Equal(dst[:n], raw[ClumpSize:]) {
					same++
				}
			} else {
				stored++
				theirBytes += int64(len(data))
				if n > 0 && n < len(data) {
					t.Errorf("clump at %#x: plan9port stored it whole, ours shrinks it to %d of %d", off, n, len(data))
				}
			}
			if n > 0 && n < len(data) {
				ourBytes += int64(n)
			} else {
				ourBytes += int64(len(data))
			}
		}
	}
	t.Logf("%d compressed clumps, %d the same bytes as plan9port's; %d stored whole; %d bytes of blocks as ours, %d as plan9port's", comp, same, stored, ourBytes, theirBytes)
	if comp == 0 || same != comp {
		t.Errorf("%d of %d compressed clumps differ from plan9port's", comp-same, comp)
	}
}

func TestWhackRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	text := []byte(strings.Repeat("the quick brown fox jumps over the lazy dog; ", 2000))
	cases := map[string][]byte{
		"empty": {}, "one": {7}, "three": {1, 2, 3}, "zeros": make([]byte, 56<<10),
		"text": text[:8192], "longtext": text[:56<<10],
	}
	rnd := make([]byte, 8192)
	for i := range rnd {
		rnd[i] = byte(r.Uint32())
	}
	cases["random"] = rnd
	half := append(append([]byte{}, rnd[:4096]...), text[:4096]...)
	cases["half"] = half
	for name, data := range cases {
		dst := make([]byte, len(data))
		n := whack(dst, data)
		if n < 0 {
			if name == "text" || name == "zeros" || name == "longtext" {
				t.Errorf("%s: not compressed", name)
			}
			continue
		}
		back := make([]byte, len(data))
		if m, err := unwhack(back, dst[:n]); err != nil || m != len(data) || !bytes.Equal(back, data) {
			t.Errorf("%s: round trip %d/%d %v", name, m, len(data), err)
		}
	}
	if n := whack(make([]byte, len(rnd)), rnd); n >= 0 {
		t.Errorf("random data compressed to %d", n)
	}
}

func FuzzWhack(f *testing.F) {
	f.Add([]byte("hello hello hello hello"))
	f.Add(make([]byte, 100))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 60<<10 {
			return
		}
		dst := make([]byte, len(data))
		n := whack(dst, data)
		if n < 0 {
			return
		}
		if n > len(data) {
			t.Fatalf("compressed %d to %d", len(data), n)
		}
		back := make([]byte, len(data))
		m, err := unwhack(back, dst[:n])
		if err != nil || m != len(data) || !bytes.Equal(back, data) {
			t.Fatalf("round trip: %d/%d %v", m, len(data), err)
		}
		// unwhack of anything never panics.
		unwhack(make([]byte, len(data)), data)
	})
}

var _ = context.Background

// The fixture's blocks, written to our store in the order plan9port
// venti wrote them, take the log bytes they take in plan9port's arenas
// (within 3%; byte for byte the same compressed clumps, in fact).
func TestStorageMatchesPlan9port(t *testing.T) {
	p, _ := fixturePart(t)
	path := newPartition(t, 40<<20, 16<<20)
	s := openStore(t, path)
	ctx := context.Background()
	var theirs uint64
	for _, a := range p.Arenas {
		theirs += a.Mem.Used
		if _, err := a.Scan(ctx, 0, func(c *Clump) error {
			_, err := s.Write(ctx, c.Type, c.Data)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	q, err := OpenPartition(path)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var ours uint64
	for _, a := range q.Arenas {
		ours += a.Mem.Used
	}
	t.Logf("log bytes for the fixture's 941 blocks: ours %d, plan9port's %d (%.4f)", ours, theirs, float64(ours)/float64(theirs))
	if float64(ours) > 1.03*float64(theirs) {
		t.Errorf("ours %d > plan9port's %d + 3%%", ours, theirs)
	}
}
