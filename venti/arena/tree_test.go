package arena_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"replfs/venti"
	"replfs/venti/ventitest"
)

var fixtureRoots = []string{
	"1c94de5d65de1a7370e6f1dc43e345c0ea721fab", // root1
	"d365de1b7eaa38d7cdfdbcad1b559e3ae7b0c52b", // root2, prev root1
	"51c25c52bfe3e7b5be6891c5f218d9d14fb8ddcd", // fossil archive 1
	"0842818bc4e6acc5ed5ca517cb45cb760844e9ed", // fossil archive 2, prev 1
	"bffef78784e6e471296aaffb569555b855700ade", // tiny
}

// orderCheck is a MemStore that fails a write of a block naming a block
// it does not have yet: children must come before parents.
type orderCheck struct {
	*ventitest.MemStore
	mu  sync.Mutex
	bad []string
}

func (o *orderCheck) Write(ctx context.Context, t venti.Type, data []byte) (venti.Score, error) {
	if t.Depth() > 0 {
		for i := 0; i+venti.ScoreSize <= len(data); i += venti.ScoreSize {
			c := venti.Score(data[i:])
			if !c.IsZero() && !o.Has(c, t-1) {
				o.mu.Lock()
				o.bad = append(o.bad, fmt.Sprintf("%v before its child %v", venti.Sum(data), c))
				o.mu.Unlock()
			}
		}
	}
	return o.MemStore.Write(ctx, t, data)
}

func TestCopyVerifyFixture(t *testing.T) {
	src := fixtureStore(t)
	dst := &orderCheck{MemStore: ventitest.NewMemStore()}
	ctx := context.Background()
	total := int64(0)
	for _, r := range fixtureRoots {
		s, _ := venti.ParseScore(r)
		st, err := venti.CopyTree(ctx, src, dst, s, venti.TreeOptions{})
		if err != nil {
			t.Fatalf("copy %s: %v", r, err)
		}
		total += st.Blocks
	}
	if len(dst.bad) > 0 {
		t.Errorf("parents written before children: %v", dst.bad[:min(3, len(dst.bad))])
	}
	for _, r := range fixtureRoots {
		s, _ := venti.ParseScore(r)
		var missing []string
		st, err := venti.VerifyTree(ctx, dst, s, venti.TreeOptions{ReadAll: true,
			Report: func(p string, _ venti.Score, _ venti.Type, err error) { missing = append(missing, p) }})
		if err != nil || st.Missing != 0 || st.Corrupt != 0 || len(missing) != 0 {
			t.Errorf("verify %s: %+v %v %v", r, st, err, missing)
		}
	}
	got := listVac(t, dst, "vac:"+fixtureRoots[0])
	want := treeSection(t, filepath.Join(ventitest.Fixtures(t, "venti"), "tree.txt"), "root1")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("root1 read from the copy differs from tree.txt")
	}
	t.Logf("%d blocks copied; target holds %d", total, dst.Len())
}

// TestVerifyFindsDamage: blocks deleted from the target are named, each
// with its path; a copy without -f puts them back, a copy with -f does
// not look below tops the target has.
func TestVerifyFindsDamage(t *testing.T) {
	src := fixtureStore(t)
	dst := ventitest.NewMemStore()
	ctx := context.Background()
	root1, _ := venti.ParseScore(fixtureRoots[0])
	if _, err := venti.CopyTree(ctx, src, dst, root1, venti.TreeOptions{}); err != nil {
		t.Fatal(err)
	}
	// Find three blocks of root1: a data block, a pointer block, and a
	// directory block, with their paths.
	type blk struct {
		s    venti.Score
		t    venti.Type
		path string
	}
	var data, ptr, dir []blk
	venti.Walk(ctx, dst, root1, venti.RootType, "vac:"+fixtureRoots[0], func(b *venti.TreeBlock) error {
		x := blk{b.Score, b.Type, b.Path}
		switch {
		case b.Type == venti.DataType:
			data = append(data, x)
		case b.Type.Depth() > 0:
			ptr = append(ptr, x)
		case b.Type == venti.DirType && b.Path != "vac:"+fixtureRoots[0]:
			dir = append(dir, x)
		}
		return nil
	})
	// Three that do not hide one another: none below another.
	under := func(a, b blk) bool { return strings.HasPrefix(a.path+"/", b.path+"/") }
	sort.Slice(dir, func(i, j int) bool { return len(dir[i].path) > len(dir[j].path) })
	victims := []blk{dir[0]}
	pick := func(cands []blk) {
		for _, c := range cands {
			ok := true
			for _, v := range victims {
				if under(c, v) || under(v, c) {
					ok = false
				}
			}
			if ok {
				victims = append(victims, c)
				return
			}
		}
		t.Fatal("no block to pick")
	}
	pick(ptr)
	pick(data)
	for _, v := range victims {
		dst.Delete(v.s, v.t)
	}
	for _, readAll := range []bool{false, true} {
		var found []string
		st, err := venti.VerifyTree(ctx, dst, root1, venti.TreeOptions{ReadAll: readAll,
			Report: func(p string, s venti.Score, _ venti.Type, err error) {
				if !venti.IsNotFound(err) {
					t.Errorf("%s: %v", p, err)
				}
				found = append(found, p)
			}})
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, v := range victims {
			want = append(want, v.path)
		}
		sort.Strings(found)
		sort.Strings(want)
		if strings.Join(found, " ") != strings.Join(want, " ") || st.Missing != 3 {
			t.Errorf("readall %v: found %v, want %v (%+v)", readAll, found, want, st)
		}
	}
	// -f trusts the tops it finds: the damage stays.
	if _, err := venti.CopyTree(ctx, src, dst, root1, venti.TreeOptions{Fast: true}); err != nil {
		t.Fatal(err)
	}
	if st, _ := venti.VerifyTree(ctx, dst, root1, venti.TreeOptions{}); st.Missing != 3 {
		t.Errorf("after copy -f: %+v", st)
	}
	// A full copy repairs it.
	if _, err := venti.CopyTree(ctx, src, dst, root1, venti.TreeOptions{}); err != nil {
		t.Fatal(err)
	}
	if st, _ := venti.VerifyTree(ctx, dst, root1, venti.TreeOptions{ReadAll: true}); st.Missing != 0 || st.Corrupt != 0 {
		t.Errorf("after copy: %+v", st)
	}
}
