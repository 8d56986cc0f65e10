package arena

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"replfs/venti"
)

// fixtureBlocks adds blocks of the fixture partition as seeds, when the
// fixtures are there.
func fixtureBlocks(f *testing.F, offs ...int64) {
	dir := filepath.Join("..", "..", "..", "shared", "fixtures", "venti", "arenas.part")
	fd, err := os.Open(dir)
	if err != nil {
		return
	}
	defer fd.Close()
	for _, off := range offs {
		b := make([]byte, 8192)
		if _, err := fd.ReadAt(b, off); err == nil {
			f.Add(b)
		}
	}
}

func FuzzUnpackArenaHead(f *testing.F) {
	b := make([]byte, arenaHeadSize5)
	packArenaHead(arenaHead{ArenaVersion5, "arenas0", 8192, 4 << 20, 0x12345678}, b)
	f.Add(b)
	fixtureBlocks(f, 794624, 4988928)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := unpackArenaHead(b)
		if err != nil {
			return
		}
		out := make([]byte, arenaHeadSize5)
		packArenaHead(h, out)
		h2, err := unpackArenaHead(out)
		if err != nil || h2 != h {
			t.Fatalf("round trip: %+v -> %+v, %v", h, h2, err)
		}
	})
}

func FuzzUnpackArena(f *testing.F) {
	for _, tr := range []trailer{
		{version: 5, name: "a", clumpMagic: 7, disk: Stats{1, 0, 50, 12, false}, mem: Stats{1, 0, 50, 12, false}},
		{version: 5, name: "b", clumpMagic: 7, disk: Stats{1, 0, 50, 12, false}, mem: Stats{3, 1, 150, 40, true}},
		{version: 4, name: "c", clumpMagic: ClumpMagic4, disk: Stats{1, 0, 50, 12, true}, mem: Stats{1, 0, 50, 12, true}},
	} {
		b := make([]byte, 8192)
		packArena(tr, b)
		f.Add(b)
	}
	fixtureBlocks(f, 4988928-8192, 9183232-8192)
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := unpackArena(b)
		if err != nil {
			return
		}
		out := make([]byte, trailerSize(tr.version))
		packArena(tr, out)
		tr2, err := unpackArena(append(out, make([]byte, 64)...))
		if err != nil || tr2 != tr {
			t.Fatalf("round trip: %+v -> %+v, %v", tr, tr2, err)
		}
	})
}

func FuzzParseMap(f *testing.F) {
	f.Add([]byte("2\narenas00\t794624\t4988928\narenas01\t4988928\t9183232\n\x00\x00"))
	f.Add([]byte("1\n# comment\n  a b\t1\t2\n"))
	f.Add([]byte("0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMap(b)
		if err != nil {
			return
		}
		m2, err := parseMap(formatMap(m))
		if err != nil || len(m2) != len(m) {
			t.Fatalf("round trip of %q: %v %v", b, m2, err)
		}
		for i := range m {
			if m[i] != m2[i] {
				t.Fatalf("entry %d: %v -> %v", i, m[i], m2[i])
			}
		}
		checkMap(m, PartBlank, 1<<40)
	})
}

func FuzzUnpackClump(f *testing.F) {
	b := make([]byte, ClumpSize)
	packClump(clumpHeader{dtype: 13, size: 5, uncsize: 5, score: venti.Sum([]byte("hello")), encoding: 1, time: 9}, b, 0x8026a645)
	f.Add(b, uint32(0x8026a645))
	packClump(clumpHeader{dtype: 2, size: 5, uncsize: 50, encoding: 2}, b, ClumpMagic4)
	f.Add(b, uint32(ClumpMagic4))
	f.Fuzz(func(t *testing.T, b []byte, magic uint32) {
		h, err := unpackClump(b, magic)
		if err != nil {
			return
		}
		out := make([]byte, ClumpSize)
		packClump(h, out, magic)
		if !bytes.Equal(out, b[:ClumpSize]) {
			t.Fatalf("round trip: %x -> %x", b[:ClumpSize], out)
		}
		ci := ClumpInfo{h.dtype, h.size, h.uncsize, h.score}
		cb := make([]byte, ClumpInfoSize)
		packClumpInfo(ci, cb)
		if unpackClumpInfo(cb) != ci {
			t.Fatal("clump info round trip")
		}
	})
}

func FuzzUnwhack(f *testing.F) {
	f.Add([]byte{0x30, 0x31, 0x32}, uint16(10))
	f.Add([]byte{}, uint16(0))
	f.Add(bytes.Repeat([]byte{0xf0, 0x0f}, 40), uint16(8192))
	fd, err := os.Open(filepath.Join("..", "..", "..", "shared", "fixtures", "venti", "arenas.part"))
	if err == nil {
		// The first compressed clump of arenas00: 47 bytes at base+0.
		b := make([]byte, ClumpSize+47)
		if _, err := fd.ReadAt(b, 794624+8192); err == nil {
			f.Add(b[ClumpSize:], uint16(389))
		}
		fd.Close()
	}
	f.Fuzz(func(t *testing.T, src []byte, size uint16) {
		dst := make([]byte, size)
		n, _ := unwhack(dst, src)
		if n < 0 || n > len(dst) {
			t.Fatalf("unwhack returned %d for %d bytes of room", n, len(dst))
		}
	})
}
