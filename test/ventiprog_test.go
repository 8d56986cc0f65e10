package test

import (
	"context"
	"crypto/sha1"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"replfs/venti"
	"replfs/venti/arena"
	"replfs/venti/ventitest"
)

var summaryRE = regexp.MustCompile(`^(\S+): arenas (\d+) clumps (\d+) bytes (\d+) end (\S+) (0x[0-9a-f]+)$`)

// parseSummary returns each target's summary fields.
func parseSummary(t testing.TB, out string) map[string][]string {
	t.Helper()
	m := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := summaryRE.FindStringSubmatch(l)
		if f == nil {
			t.Fatalf("bad summary line %q", l)
		}
		m[f[1]] = f[2:]
	}
	return m
}

// vacLines lists a vac tree as tree.txt does.
func vacLines(t testing.TB, r venti.BlockReader, score venti.Score) []string {
	t.Helper()
	ctx := context.Background()
	top, err := venti.OpenVac(ctx, r, score)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	var walk func(f *venti.VacFile, prefix string)
	walk = func(f *venti.VacFile, prefix string) {
		kids, err := f.ReadDir(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range kids {
			p := prefix + c.Dir.Elem
			if c.IsDir() {
				lines = append(lines, fmt.Sprintf("%s/\td\t0\t%04o\t%d\t-", p, c.Dir.Mode&0777, c.Dir.Mtime))
				walk(c, p+"/")
				continue
			}
			h := sha1.New()
			if _, err := c.Data().WriteTo(ctx, h); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, fmt.Sprintf("%s\tf\t%d\t%04o\t%d\t%x", p, c.Size, c.Dir.Mode&0777, c.Dir.Mtime, h.Sum(nil)))
		}
	}
	walk(top, "")
	sort.Strings(lines)
	return lines
}

// TestVentiprogEndToEnd: our venti on a copy of the fixture is the
// source; two of our ventis on fresh partitions are the targets.
func TestVentiprogEndToEnd(t *testing.T) {
	fx := ventitest.Fixtures(t, "venti")
	srcPart := copyFile(t, filepath.Join(fx, "arenas.part"), t.TempDir())
	src := serveVenti(t, srcPart)
	t1 := serveVenti(t, newPartition(t, "64m", "4m"))
	t2 := serveVenti(t, newPartition(t, "64m", "4m"))
	state := t.TempDir()
	srcHTTP := fmt.Sprintf("tcp!127.0.0.1!%d", src.hport)
	prog := func() map[string][]string {
		t.Helper()
		out, errs, err := runReplfs(t, "ventiprog", "-H", srcHTTP, "-p", srcPart, "-d", state, t1.addr, t2.addr)
		if err != nil {
			t.Fatalf("ventiprog: %v\n%s%s", err, out, errs)
		}
		return parseSummary(t, out)
	}

	// A dry run sends nothing but says what would move.
	out, _, err := runReplfs(t, "ventiprog", "-n", "-p", srcPart, "-d", state, t1.addr)
	if err != nil || !strings.HasPrefix(out, t1.addr+": would send arenas 2 clumps 941 bytes 6870104 end arenas01 0x26e11d\n") || t1.clumps(t) != 0 {
		t.Fatalf("dry run: %q %v", out, err)
	}

	s := prog()
	for _, tg := range []*ventiProc{t1, t2} {
		if got := s[tg.addr]; strings.Join(got, " ") != "2 941 6870104 arenas01 0x26e11d" {
			t.Errorf("%s: summary %v", tg.addr, got)
		}
		if n := checkHasPartition(t, srcPart, tg.addr); n != 941 {
			t.Errorf("%s: %d clumps checked", tg.addr, n)
		}
		// Every root reads back whole, unvac style.
		c := dialVenti(t, tg.addr)
		for _, r := range []struct{ name, score string }{
			{"root1", "1c94de5d65de1a7370e6f1dc43e345c0ea721fab"}, {"root2", "d365de1b7eaa38d7cdfdbcad1b559e3ae7b0c52b"},
		} {
			sc, _ := venti.ParseScore(r.score)
			got := vacLines(t, c, sc)
			want := treeSectionLines(t, filepath.Join(fx, "tree.txt"), r.name)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s: %s differs from tree.txt", tg.addr, r.name)
			}
		}
		for _, r := range []string{"51c25c52bfe3e7b5be6891c5f218d9d14fb8ddcd", "0842818bc4e6acc5ed5ca517cb45cb760844e9ed", "bffef78784e6e471296aaffb569555b855700ade"} {
			sc, _ := venti.ParseScore(r)
			if err := venti.Walk(context.Background(), c, sc, venti.RootType, r, func(b *venti.TreeBlock) error { return b.Err }); err != nil {
				t.Errorf("%s: walk %s: %v", tg.addr, r, err)
			}
		}
	}

	// More blocks on the source: enough to seal arenas01 on the way.
	before1, before2 := t1.clumps(t), t2.clumps(t)
	c := dialVenti(t, src.addr)
	ctx := context.Background()
	const more = 250
	for i := range more {
		if _, err := c.Write(ctx, venti.DataType, blockFor(uint64(1e6+i), 8192)); err != nil {
			t.Fatal(err)
		}
	}
	s = prog()
	for _, tg := range []*ventiProc{t1, t2} {
		if got := s[tg.addr]; got[1] != fmt.Sprint(more) || got[3] != "arenas02" {
			t.Errorf("%s: second run %v, want %d clumps ending in arenas02", tg.addr, got, more)
		}
	}
	if d1, d2 := t1.clumps(t)-before1, t2.clumps(t)-before2; d1 != more || d2 != more {
		t.Errorf("targets gained %d and %d clumps, want %d", d1, d2, more)
	}
	cur, err := arena.LoadCursor(filepath.Join(state, "ventiprog", cursorFileName(t1.addr)))
	if err != nil || !cur["arenas01"].Done || !cur["arenas00"].Done || cur["arenas02"].Offset == 0 {
		t.Errorf("cursor after the seal: %v %v", cur, err)
	}
	// Nothing new: nothing sent.
	s = prog()
	if got := s[t1.addr]; got[1] != "0" {
		t.Errorf("third run sent %v", got)
	}
	checkHasPartition(t, srcPart, t2.addr)
}

// cursorFileName mirrors replfs's naming of cursor files.
func cursorFileName(target string) string {
	return strings.NewReplacer("%", "%25", "/", "%2F").Replace(target) + ".cursor"
}

func treeSectionLines(t testing.TB, file, name string) []string {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "["):
			in = strings.HasPrefix(l, "["+name+"]")
		case in && l != "" && !strings.HasPrefix(l, "#"):
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}
