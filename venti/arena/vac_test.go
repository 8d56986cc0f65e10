package arena_test

import (
	"bufio"
	"context"
	"crypto/sha1"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"replfs/venti"
	"replfs/venti/arena"
	"replfs/venti/ventitest"
)

// fixtureStore opens a copy of the fixture partition as a Store.
func fixtureStore(t *testing.T) *arena.Store {
	t.Helper()
	dir := ventitest.Fixtures(t, "venti")
	src, err := os.Open(filepath.Join(dir, "arenas.part"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst := filepath.Join(t.TempDir(), "arenas.part")
	out, _ := os.Create(dst)
	io.Copy(out, src)
	out.Close()
	s, err := arena.Open(context.Background(), []string{dst}, arena.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// listVac reads a whole vac tree, every file's contents included, into
// lines like the fixtures' tree.txt: path kind size mode mtime sha1.
func listVac(t *testing.T, r venti.BlockReader, score string) []string {
	t.Helper()
	ctx := context.Background()
	s, err := venti.ParseScore(score)
	if err != nil {
		t.Fatal(err)
	}
	top, err := venti.OpenVac(ctx, r, s)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	var walk func(f *venti.VacFile, prefix string)
	walk = func(f *venti.VacFile, prefix string) {
		kids, err := f.ReadDir(ctx)
		if err != nil {
			t.Fatalf("%s: %v", prefix, err)
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
				t.Fatalf("%s: %v", p, err)
			}
			lines = append(lines, fmt.Sprintf("%s\tf\t%d\t%04o\t%d\t%x", p, c.Size, c.Dir.Mode&0777, c.Dir.Mtime, h.Sum(nil)))
		}
	}
	walk(top, "")
	sort.Strings(lines)
	return lines
}

// treeSection returns the lines of tree.txt under "[name] ...".
func treeSection(t *testing.T, file, name string) []string {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
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

// TestVacFixture reads both vac archives of the fixture through our
// vac reader from our Store, and every file matches tree.txt.
func TestVacFixture(t *testing.T) {
	s := fixtureStore(t)
	dir := ventitest.Fixtures(t, "venti")
	for _, tt := range []struct{ name, score string }{
		{"root1", "vac:1c94de5d65de1a7370e6f1dc43e345c0ea721fab"},
		{"root2", "vac:d365de1b7eaa38d7cdfdbcad1b559e3ae7b0c52b"},
	} {
		got := listVac(t, s, tt.score)
		want := treeSection(t, filepath.Join(dir, "tree.txt"), tt.name)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:\n--- ours\n%s\n--- tree.txt\n%s", tt.name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestWalkFixture walks every root of the fixture: every block is read,
// children before parents, and nothing is missing.
func TestWalkFixture(t *testing.T) {
	s := fixtureStore(t)
	ctx := context.Background()
	for _, score := range []string{
		"1c94de5d65de1a7370e6f1dc43e345c0ea721fab", "d365de1b7eaa38d7cdfdbcad1b559e3ae7b0c52b",
		"51c25c52bfe3e7b5be6891c5f218d9d14fb8ddcd", "0842818bc4e6acc5ed5ca517cb45cb760844e9ed",
		"bffef78784e6e471296aaffb569555b855700ade",
	} {
		sc, _ := venti.ParseScore(score)
		seen := map[venti.Score]bool{}
		n := 0
		err := venti.Walk(ctx, s, sc, venti.RootType, "vac:"+score, func(b *venti.TreeBlock) error {
			if b.Err != nil {
				return fmt.Errorf("%s: %w", b.Path, b.Err)
			}
			if venti.Sum(b.Data) != b.Score {
				return fmt.Errorf("%s: wrong data", b.Path)
			}
			// Children first: every non-zero score a block names was seen.
			if b.Type.Depth() > 0 {
				for i := 0; i+venti.ScoreSize <= len(b.Data); i += venti.ScoreSize {
					if c := venti.Score(b.Data[i:]); !c.IsZero() && !seen[c] {
						return fmt.Errorf("%s: parent before child %v", b.Path, c)
					}
				}
			}
			seen[b.Score] = true
			n++
			return nil
		})
		if err != nil {
			t.Errorf("walk %s: %v", score, err)
		}
		t.Logf("vac:%s: %d blocks, %d distinct", score[:8], n, len(seen))
	}
}
