package arena

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"replfs/venti"
	"replfs/venti/ventitest"
)

// fixturePart opens ../shared/fixtures/venti/arenas.part, written by
// plan9port venti (see the fixtures' README).
func fixturePart(t testing.TB) (*Partition, string) {
	t.Helper()
	dir := ventitest.Fixtures(t, "venti")
	p, err := OpenPartition(filepath.Join(dir, "arenas.part"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, dir
}

// The README's table of arenas.
var fixtureArenas = []struct {
	name        string
	start, stop int64
	magic       uint32
	clumps      uint32
	sealed      bool
}{
	{"arenas00", 794624, 4988928, 0x8026a645, 520, true},
	{"arenas01", 4988928, 9183232, 0x5e8474e6, 421, false},
	{"arenas02", 9183232, 13377536, 0x97f667fd, 0, false},
	{"arenas03", 13377536, 17571840, 0x09e59ce5, 0, false},
	{"arenas04", 17571840, 21766144, 0x8fe2b358, 0, false},
	{"arenas05", 21766144, 25960448, 0xeb0a44c5, 0, false},
	{"arenas06", 25960448, 30154752, 0x69ca26ef, 0, false},
	{"arenas07", 30154752, 34349056, 0x8e43bd23, 0, false},
	{"arenas08", 34349056, 38543360, 0x197bd17d, 0, false},
	{"arenas09", 38543360, 41943040, 0x5c3e86ec, 0, false},
}

func TestFixturePartition(t *testing.T) {
	p, _ := fixturePart(t)
	if p.BlockSize != 8192 || p.ArenaBase != 794624 || p.TabBase != 270336 {
		t.Errorf("header: block %d arenabase %d tabbase %d", p.BlockSize, p.ArenaBase, p.TabBase)
	}
	if len(p.Arenas) != len(fixtureArenas) {
		t.Fatalf("%d arenas, want %d", len(p.Arenas), len(fixtureArenas))
	}
	for i, want := range fixtureArenas {
		a := p.Arenas[i]
		if a.Name != want.name || a.Start != want.start || a.Stop != want.stop || a.ClumpMagic != want.magic ||
			a.Mem.Clumps != want.clumps || a.Mem.Sealed != want.sealed || a.Version != 5 || a.HeadErr != nil {
			t.Errorf("arena %d: %+v, want %+v", i, a, want)
		}
	}
	a0, a1 := p.Arenas[0], p.Arenas[1]
	if a0.Mem != (Stats{520, 12, 4158996, 4201745, true}) || a0.Disk != a0.Mem {
		t.Errorf("arenas00 stats %+v %+v", a0.Mem, a0.Disk)
	}
	if a1.Mem != (Stats{421, 93, 2547997, 2668359, false}) || a1.Ctime != 1795296242 || a1.Wtime != 1795296646 {
		t.Errorf("arenas01 %+v ctime %d wtime %d", a1.Mem, a1.Ctime, a1.Wtime)
	}
	if a0.Score.String() != "f45bf11df0ef9157ceb8ebd0a83a254be15b7b81" {
		t.Errorf("arenas00 score %v", a0.Score)
	}
	if err := a0.VerifyScore(); err != nil {
		t.Errorf("sealed arena score: %v", err)
	}
	if err := a1.VerifyScore(); err == nil {
		t.Error("unsealed arena has a score that verifies")
	}
}

// printarenaClumps parses printarenas.txt: for each arena, its clumps as
// "offset score type uncsize" lines and its end offset.
func printarenaClumps(t *testing.T, dir string) map[string][]string {
	f, err := os.Open(filepath.Join(dir, "printarenas.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	cur := ""
	head := regexp.MustCompile(`^# arena head version=5 name=(\S+) `)
	line := regexp.MustCompile(`^\s+(\d+) ([0-9a-f]{40})\s+(\d+)\s+(\d+)$`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if m := head.FindStringSubmatch(l); m != nil {
			cur = m[1]
			out[cur] = []string{}
		} else if m := line.FindStringSubmatch(l); m != nil && cur != "" {
			out[cur] = append(out[cur], strings.Join(m[1:], " "))
		} else if strings.HasPrefix(l, "end offset ") && cur != "" {
			out[cur] = append(out[cur], l)
			cur = ""
		}
	}
	return out
}

// TestFixtureScan reads every clump of the fixture, decompressing and
// checking each, and compares the list with plan9port's printarena.
func TestFixtureScan(t *testing.T) {
	p, dir := fixturePart(t)
	want := printarenaClumps(t, dir)
	if len(want) != 3 {
		t.Fatalf("printarenas.txt lists %d arenas", len(want))
	}
	for _, a := range p.Arenas {
		var got []string
		compressed, types := 0, map[venti.Type]int{}
		end, err := a.Scan(context.Background(), 0, func(c *Clump) error {
			if c.Err != nil {
				t.Errorf("%s: %v", a.Name, c.Err)
				return nil
			}
			if len(c.Data) != int(c.Info.Uncsize) {
				t.Errorf("%s %#x: %d bytes, want %d", a.Name, c.Offset, len(c.Data), c.Info.Uncsize)
			}
			if c.Encoding == EncodingCompress {
				compressed++
			}
			types[c.Type]++
			got = append(got, strconv.FormatInt(c.Offset, 10)+" "+c.Score.String()+" "+c.Type.String()+" "+strconv.Itoa(len(c.Data)))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if uint32(compressed) != a.Mem.CClumps {
			t.Errorf("%s: %d compressed clumps, trailer says %d", a.Name, compressed, a.Mem.CClumps)
		}
		if a.Mem.Clumps == 0 {
			if end != 0 || len(got) != 0 {
				t.Errorf("%s: empty arena gave %d clumps, end %d", a.Name, len(got), end)
			}
			if w, ok := want[a.Name]; ok && (len(w) != 1 || w[0] != "end offset 0") {
				t.Errorf("%s: printarena says %v", a.Name, w)
			}
			continue
		}
		got = append(got, "end offset "+strconv.FormatInt(end, 10))
		if strings.Join(got, "\n") != strings.Join(want[a.Name], "\n") {
			t.Errorf("%s: clump list differs from printarena (%d vs %d lines)", a.Name, len(got), len(want[a.Name]))
		}
		t.Logf("%s: %d clumps, types %v, %d compressed, end %#x", a.Name, len(got)-1, types, compressed, end)
	}
}

// diskTOC parses the table of contents of a saved /disk page: type,
// size, uncsize, score and log offset per clump.
func diskTOC(t *testing.T, file string) []string {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^\s+(\d+)\s+(\d+)\s+(\d+) ([0-9a-f]{40}) at <a href="[^"]*">(0x[0-9a-f]+|0)</a>$`)
	var out []string
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		off, _ := strconv.ParseInt(m[5], 0, 64)
		out = append(out, strings.Join(m[1:5], " ")+" "+strconv.FormatInt(off, 10))
	}
	return out
}

func TestFixtureDiskPages(t *testing.T) {
	p, dir := fixturePart(t)
	for _, name := range []string{"arenas00", "arenas01"} {
		want := append(diskTOC(t, filepath.Join(dir, "disk-"+name+".html")),
			diskTOC(t, filepath.Join(dir, "disk-"+name+"-cib1.html"))...)
		a := p.Arena(name)
		var got []string
		_, err := a.Scan(context.Background(), 0, func(c *Clump) error {
			got = append(got, strings.Join([]string{c.Type.String(), strconv.Itoa(int(c.Info.Size)),
				strconv.Itoa(int(c.Info.Uncsize)), c.Score.String(), strconv.FormatInt(c.Offset, 10)}, " "))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(want) != int(a.Mem.Clumps) || strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: %d clumps differ from the /disk pages' %d", name, len(got), len(want))
		}
	}
}

func readScores(t *testing.T, file string) []string {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// TestWrarenaParity: scanning as the saved wrarena runs did yields the
// same scores and end offsets.
func TestWrarenaParity(t *testing.T) {
	p, dir := fixturePart(t)
	for _, tt := range []struct {
		arena  string
		from   int64
		scores string
		end    int64
		n      int
	}{
		{"arenas00", 0, "wrarena-arenas00.scores", 0x3f7614, 520},
		{"arenas01", 0, "wrarena-arenas01.scores", 0x26e11d, 421},
		{"arenas01", 0x12156, "wrarena-arenas01-from-0x12156.scores", 0x26e11d, 412},
	} {
		var got []string
		end, err := p.Arena(tt.arena).Scan(context.Background(), tt.from, func(c *Clump) error {
			if c.Err != nil {
				t.Error(c.Err)
			} else {
				got = append(got, c.Score.String())
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(got)
		want := readScores(t, filepath.Join(dir, tt.scores))
		if end != tt.end || len(got) != tt.n || strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s from %#x: %d scores, end %#x; want %d (%s), end %#x", tt.arena, tt.from, len(got), end, len(want), tt.scores, tt.end)
		}
	}
	// The same through a byte range, as the wrarena runs named it.
	a, err := OpenArena(filepath.Join(dir, "arenas.part")+":4988928-9183232", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	n := 0
	end, err := a.Scan(context.Background(), 0x12156, func(c *Clump) error { n++; return c.Err })
	if err != nil || n != 412 || end != 0x26e11d || a.Name != "arenas01" {
		t.Errorf("byte range: %s %d clumps end %#x %v", a.Name, n, end, err)
	}
	// Past the end of the data area is refused, as wrarena does.
	if _, err := a.Scan(context.Background(), a.DataSize(), func(*Clump) error { return nil }); err == nil {
		t.Error("offset past the arena accepted")
	}
}
