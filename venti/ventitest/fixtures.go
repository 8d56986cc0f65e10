package ventitest

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"replfs/venti"
)

// Fixtures returns the directory sub of the plan9port fixtures, which
// live beside the repository in ../shared/fixtures, and skips the test
// with a clear message when they are absent.
func Fixtures(t testing.TB, sub string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("plan9port fixtures not found: no go.mod above the test")
		}
		dir = parent
	}
	fx := filepath.Join(dir, "..", "shared", "fixtures", sub)
	if _, err := os.Stat(fx); err != nil {
		t.Skipf("plan9port fixtures not found in %s (../shared/fixtures is absent): skipping", fx)
	}
	return fx
}

// CopyFixture copies the fixture file sub/name to dst, so a test may
// write to it, and returns dst. It skips as Fixtures does.
func CopyFixture(t testing.TB, sub, name, dst string) string {
	t.Helper()
	src := filepath.Join(Fixtures(t, sub), name)
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0600); err != nil {
		t.Fatal(err)
	}
	return dst
}

// A FixtureRoot is a root block listed in the fixture venti's roots.txt.
type FixtureRoot struct {
	Score  venti.Score
	What   string // its title: root1, fossil archive 1, ...
	Root   venti.Root
	Arena  string
	Index  uint32 // clump number in the arena
	Offset int64  // log offset of the clump
}

// FixtureRoots parses venti/roots.txt: the root blocks stored in the
// fixture's arenas.part, in the order listed (the order of writing).
// Entries without a root block line (data blocks) are left out. It skips
// as Fixtures does.
func FixtureRoots(t testing.TB) []FixtureRoot {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Fixtures(t, "venti"), "roots.txt"))
	if err != nil {
		t.Fatal(err)
	}
	head := regexp.MustCompile(`^(?:vac:)?([0-9a-f]{40})  (.*)$`)
	block := regexp.MustCompile(`^\troot block: version=2 name="([^"]*)" type="([^"]*)" score=([0-9a-f]{40}) blocksize=(\d+) prev=([0-9a-f]{40})$`)
	where := regexp.MustCompile(`^\twhere: (\S+) clump #(\d+) at offset (\d+)`)
	var out []FixtureRoot
	var cur *FixtureRoot
	isRoot := false
	flush := func() {
		if cur != nil && isRoot {
			out = append(out, *cur)
		}
		cur, isRoot = nil, false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if m := head.FindStringSubmatch(l); m != nil {
			flush()
			s, _ := venti.ParseScore(m[1])
			cur = &FixtureRoot{Score: s, What: m[2]}
			continue
		}
		if cur == nil {
			continue
		}
		if m := block.FindStringSubmatch(l); m != nil {
			cur.Root.Name, cur.Root.Type = m[1], m[2]
			cur.Root.Score, _ = venti.ParseScore(m[3])
			cur.Root.BlockSize, _ = strconv.Atoi(m[4])
			cur.Root.Prev, _ = venti.ParseScore(m[5])
			isRoot = true
		} else if m := where.FindStringSubmatch(l); m != nil {
			cur.Arena = m[1]
			i, _ := strconv.ParseUint(m[2], 10, 32)
			cur.Index = uint32(i)
			cur.Offset, _ = strconv.ParseInt(m[3], 10, 64)
		}
	}
	flush()
	if len(out) == 0 {
		t.Fatal("roots.txt lists no roots")
	}
	return out
}
