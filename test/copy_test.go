package test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"replfs/venti"
	"replfs/venti/arena"
	"replfs/venti/ventitest"
)

var fixtureRoots = []string{
	"vac:1c94de5d65de1a7370e6f1dc43e345c0ea721fab", // root1
	"vac:d365de1b7eaa38d7cdfdbcad1b559e3ae7b0c52b", // root2
	"vac:51c25c52bfe3e7b5be6891c5f218d9d14fb8ddcd", // fossil archive 1
	"vac:0842818bc4e6acc5ed5ca517cb45cb760844e9ed", // fossil archive 2
	"vac:bffef78784e6e471296aaffb569555b855700ade", // tiny
}

// TestCopyVerifyCtl: through /ctl, the fixture's roots are copied from
// our venti on a copy of the fixture to a fresh one, verify says each is
// complete, and root1 reads back file by file as tree.txt says. Then a
// block of root1 is damaged on the target's disk: verify names it with
// its path, and a second copy (without -f) repairs it.
func TestCopyVerifyCtl(t *testing.T) {
	fx := ventitest.Fixtures(t, "venti")
	src := serveVenti(t, copyFile(t, filepath.Join(fx, "arenas.part"), t.TempDir()))
	tg := serveVenti(t, newPartition(t, "64m", "8m"))
	r := startReplfs(t, "")
	fs := r.mount9(t)
	run := func(cmd string, job int) string {
		t.Helper()
		if err := write9(t, fs, "/ctl", cmd); err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		final, _ := waitJob(t, func() string { return read9(t, fs, "/jobs/"+itoa(job)+"/status") })
		return final
	}
	if err := write9(t, fs, "/ctl", "target backup "+tg.addr); err != nil {
		t.Fatal(err)
	}
	st := run("copy "+src.addr+" backup "+strings.Join(fixtureRoots, " "), 1)
	if !strings.HasPrefix(st, "state done\n") || strings.Count(st, "result vac:") != 5 {
		t.Fatalf("copy:\n%s", st)
	}
	st = run("verify backup "+strings.Join(fixtureRoots, " "), 2)
	for _, root := range fixtureRoots {
		if !strings.Contains(st, "result "+root+" complete ") {
			t.Errorf("verify lacks %s complete:\n%s", root, st)
		}
	}
	if !strings.Contains(st, "probe read count 0 for data blocks") {
		t.Errorf("verify does not say its probe:\n%s", st)
	}
	c := dialVenti(t, tg.addr)
	s1, _ := venti.ParseScore(fixtureRoots[0])
	got := vacLines(t, c, s1)
	want := treeSectionLines(t, filepath.Join(fx, "tree.txt"), "root1")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("root1 on the target differs from tree.txt")
	}

	// Damage one data block of root1 on the target's disk, one that
	// occurs once in the tree.
	var victim *arena.Clump
	var path string
	uses := map[venti.Score]int{}
	var order []*venti.TreeBlock
	venti.Walk(context.Background(), c, s1, venti.RootType, fixtureRoots[0], func(b *venti.TreeBlock) error {
		uses[b.Score]++
		order = append(order, b)
		return nil
	})
	for _, b := range order {
		if b.Type == venti.DataType && len(b.Data) == 8192 && uses[b.Score] == 1 {
			path = b.Path
			victim = &arena.Clump{Score: b.Score}
			break
		}
	}
	tp, err := arena.OpenPartition(tg.part)
	if err != nil {
		t.Fatal(err)
	}
	var off int64 = -1
	for _, a := range tp.Arenas {
		a.Scan(context.Background(), 0, func(cl *arena.Clump) error {
			if cl.Score == victim.Score {
				off = a.Base() + cl.Offset + arena.ClumpSize + 100
			}
			return nil
		})
	}
	tp.Close()
	f, err := os.OpenFile(tg.part, os.O_RDWR, 0)
	if err != nil || off < 0 {
		t.Fatalf("find victim: %v %d", err, off)
	}
	f.WriteAt([]byte("damage"), off)
	f.Close()

	st = run("verify -r backup "+fixtureRoots[0], 3)
	if !strings.HasPrefix(st, "state failed\n") || !strings.Contains(st, "result "+fixtureRoots[0]+" missing 0 corrupt 1 of ") {
		t.Errorf("verify of damage:\n%s", st)
	}
	rep := read9(t, fs, "/jobs/3/report")
	if !strings.HasPrefix(rep, path+" corrupt "+victim.Score.String()+"/0: ") {
		t.Errorf("report:\n%s\nwant the path %s", rep, path)
	}
	if strings.Count(rep, "\n") != 2 { // the block, and the summary line
		t.Errorf("report names more than the damaged block:\n%s", rep)
	}
	run("copy "+src.addr+" backup "+fixtureRoots[0], 4)
	st = run("verify -r backup "+fixtureRoots[0], 5)
	if !strings.Contains(st, "result "+fixtureRoots[0]+" complete ") {
		t.Errorf("after repair:\n%s", st)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
