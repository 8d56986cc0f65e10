package jobs

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"replfs/rootscor"
	"replfs/venti"
	"replfs/venti/ventitest"
)

// checkLogCopy checks that target name holds, in store, the engine's
// root score log byte for byte, as its status says.
func checkLogCopy(t *testing.T, e *Engine, name string, store venti.BlockReader) venti.Score {
	t.Helper()
	st, ok := e.TargetStatus(name)
	if !ok {
		t.Fatalf("no target %s", name)
	}
	var line string
	for _, l := range strings.Split(st, "\n") {
		if v, ok := strings.CutPrefix(l, "rootscor "); ok {
			line = v
		}
	}
	f := strings.Fields(line)
	want := strings.Count(string(e.RootScor()), "\n")
	if len(f) != 3 || f[1] != strconv.Itoa(want) || f[2] != "lines" {
		t.Fatalf("status rootscor %q, want vac:score %d lines", line, want)
	}
	root, err := venti.ParseScore(f[0])
	if err != nil {
		t.Fatal(err)
	}
	got, err := rootscor.ReadLog(context.Background(), store, root)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(e.RootScor()) {
		t.Errorf("%s holds\n%s\nwant\n%s", name, got, e.RootScor())
	}
	return root
}

// TestLogTravels: a ventiprog leaves the root score log on each target,
// after the arenas; an unchanged log writes nothing more, a changed one
// is written again with the old one as its prev, and a failed run
// leaves no log.
func TestLogTravels(t *testing.T) {
	state := t.TempDir()
	e := newEngine(t, state)
	ctx := context.Background()
	a, astore := ventitest.NewServer(t)
	if err := e.Exec(ctx, "target a "+a+"\ntarget dead tcp!127.0.0.1!1"); err != nil {
		t.Fatal(err)
	}
	rec := func(s string) {
		sc, _ := venti.ParseScore(strings.Repeat(s, 40))
		if err := e.scores.Append(rootscor.Record{Score: sc, Partition: "/fs.part", Venti: "local", Fsname: "fs", Time: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	rec("a")
	run(t, e, "ventiprog a", Done)
	n := astore.Len()
	first := checkLogCopy(t, e, "a", astore)
	run(t, e, "ventiprog a", Done)
	if astore.Len() != n {
		t.Errorf("unchanged log: %d blocks, then %d", n, astore.Len())
	}
	rec("b")
	run(t, e, "ventiprog a", Done)
	second := checkLogCopy(t, e, "a", astore)
	b, err := astore.Read(ctx, second, venti.RootType, venti.RootSize)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := venti.UnpackRoot(b); err != nil || r.Prev != first || r.Type != "replfs" || r.Name != "rootscor" {
		t.Errorf("second log root %+v %v, want prev %v", r, err, first)
	}
	// A target the run cannot reach holds no log.
	run(t, e, "ventiprog dead", Failed)
	if st, _ := e.TargetStatus("dead"); !strings.Contains(st, "\nrootscor -\n") {
		t.Errorf("dead target:\n%s", st)
	}
	// Kept across a restart.
	if _, err := os.Stat(filepath.Join(state, "targets", "a", "rootscor")); err != nil {
		t.Error(err)
	}
}

// TestRecoverLog: a replfs with a fresh state directory recovers,
// byte for byte, the root score log a target holds, by its score or by
// the target's own record of it; a second recovery adds nothing.
func TestRecoverLog(t *testing.T) {
	e := newEngine(t, t.TempDir())
	ctx := context.Background()
	a, astore := ventitest.NewServer(t)
	if err := e.Exec(ctx, "target a "+a); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"a", "b", "c"} {
		sc, _ := venti.ParseScore(strings.Repeat(s, 40))
		if err := e.scores.Append(rootscor.Record{Score: sc, Partition: "/fs.part", Venti: "local", Fsname: "fs", Time: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	run(t, e, "ventiprog a", Done)
	root := checkLogCopy(t, e, "a", astore)

	fresh := newEngine(t, t.TempDir())
	st := run(t, fresh, "rootscor -r "+a+" vac:"+root.String(), Done)
	if !strings.Contains(st, "result vac:"+root.String()+": 3 lines, 3 added\n") {
		t.Errorf("rootscor -r:\n%s", st)
	}
	if got, want := string(fresh.RootScor()), string(e.RootScor()); got != want {
		t.Errorf("recovered\n%s\nwant\n%s", got, want)
	}
	st = run(t, fresh, "rootscor -r "+a+" vac:"+root.String(), Done)
	if !strings.Contains(st, ": 3 lines, 0 added\n") || string(fresh.RootScor()) != string(e.RootScor()) {
		t.Errorf("second rootscor -r:\n%s\n%s", st, fresh.RootScor())
	}
	// Without a score: the one the target was given; none known fails.
	if st := run(t, e, "rootscor -r a", Done); !strings.Contains(st, "0 added") {
		t.Errorf("rootscor -r a:\n%s", st)
	}
	if err := fresh.Exec(ctx, "target a "+a); err != nil {
		t.Fatal(err)
	}
	if st := run(t, fresh, "rootscor -r a", Failed); !strings.Contains(st, "no root score log known there") {
		t.Errorf("rootscor -r a, nothing known:\n%s", st)
	}
	// Not a log: refused, nothing added.
	st = run(t, fresh, "rootscor -r "+a+" vac:"+strings.Repeat("0", 40), Failed)
	if string(fresh.RootScor()) != string(e.RootScor()) {
		t.Errorf("a bad score changed the log:\n%s", fresh.RootScor())
	}
}

// TestFossilizeLeavesLog: fossilize leaves the root score log in the
// fossil's venti, which holds the archive it names, so that venti's
// arenas name their archives; a venti that cannot be reached is a
// warning, and the record is kept.
func TestFossilizeLeavesLog(t *testing.T) {
	dir := t.TempDir()
	part := filepath.Join(dir, "fossil.part")
	ventitest.CopyFixture(t, "fossil", "fossil.part", part)
	addr, store := ventitest.NewServer(t)
	e := newEngine(t, filepath.Join(dir, "state"))
	if err := e.Exec(context.Background(), "fossil -h "+addr+" "+part); err != nil {
		t.Fatal(err)
	}
	st := run(t, e, "fossilize", Done)
	i := strings.Index(st, "\nrootscor vac:")
	if i < 0 {
		t.Fatalf("fossilize:\n%s", st)
	}
	f := strings.Fields(st[i+1:])
	root, err := venti.ParseScore(f[1])
	if err != nil {
		t.Fatal(err)
	}
	got, err := rootscor.ReadLog(context.Background(), store, root)
	if err != nil || string(got) != string(e.RootScor()) {
		t.Errorf("venti holds %q %v, want\n%s", got, err, e.RootScor())
	}

	other := filepath.Join(dir, "other.part")
	ventitest.CopyFixture(t, "fossil", "fossil.part", other)
	e2 := newEngine(t, filepath.Join(dir, "state2"))
	if err := e2.Exec(context.Background(), "fossil -h tcp!127.0.0.1!1 "+other); err != nil {
		t.Fatal(err)
	}
	st = run(t, e2, "fossilize", Done)
	if !strings.Contains(st, "\nwarnings 1\n") || !strings.Contains(st, "result rootscor: log not written to tcp!127.0.0.1!1: ") || len(e2.scores.Records()) != 1 {
		t.Errorf("fossilize, venti down:\n%s", st)
	}
}

// TestLogFile: rootscor -f keeps a second copy of each record in the
// seed scripts' format; it is configuration, refuses files replfs must
// not append to, and a failed append is a warning, never a lost record.
func TestLogFile(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	part := filepath.Join(dir, "fossil.part")
	ventitest.CopyFixture(t, "fossil", "fossil.part", part)
	e := newEngine(t, state)
	ctx := context.Background()
	for _, tc := range []struct{ text, err string }{
		{"rootscor -f " + dir, "rootscor: " + strconv.Quote(dir) + ": not a regular file"},
		{"rootscor -f " + filepath.Join(dir, "none", "rootscor"), "rootscor: " + strconv.Quote(filepath.Join(dir, "none")) + ": no such directory"},
		{"rootscor -f " + filepath.Join(state, "rootscor"), "rootscor: " + filepath.Join(state, "rootscor") + ": replfs's own file"},
		{"rootscor -f rel/rootscor", `rootscor: bad file "rel/rootscor": want an absolute name`},
		{"rootscor -f /x -r local", "usage: rootscor"},
	} {
		if err := e.Exec(ctx, tc.text); err == nil || !strings.HasPrefix(err.Error(), tc.err) {
			t.Errorf("%s: %v, want %s", tc.text, err, tc.err)
		}
	}
	seed := filepath.Join(dir, "9fat-rootscor")
	if err := e.Exec(ctx, "rootscor -f "+seed+"\nfossil -h tcp!127.0.0.1!1 "+part); err != nil {
		t.Fatal(err)
	}
	if ids := e.Jobs(); len(ids) != 0 {
		t.Errorf("rootscor -f started jobs %v", ids)
	}
	if !strings.Contains(e.CtlText(), "rootscor -f "+seed+"\n") {
		t.Errorf("/ctl:\n%s", e.CtlText())
	}
	run(t, e, "fossilize", Done)
	r := e.scores.Records()[0]
	if b, _ := os.ReadFile(seed); string(b) != "vac:"+r.Score.String()+" "+part+" tcp!127.0.0.1!1\n" {
		t.Errorf("seed copy %q", b)
	}
	// The copy cannot be written: a warning, and the record is kept.
	os.Remove(seed)
	os.Mkdir(seed, 0700)
	other := filepath.Join(dir, "other.part")
	ventitest.CopyFixture(t, "fossil", "fossil.part", other)
	if err := e.Exec(ctx, "fossil -h tcp!127.0.0.1!1 "+other); err != nil {
		t.Fatal(err)
	}
	st := run(t, e, "fossilize", Done)
	if !strings.Contains(st, "result rootscor -f: "+seed+": not a regular file\n") || len(e.scores.Records()) != 2 {
		t.Errorf("fossilize, seed copy a directory:\n%s", st)
	}
	if err := e.Exec(ctx, "rootscor -d"); err != nil || strings.Contains(e.CtlText(), "rootscor") {
		t.Errorf("rootscor -d: %v\n%s", err, e.CtlText())
	}
}

// TestLogAfterCopy: a copy of chosen trees leaves on its destination
// the lines of the log whose archives it now holds, and no others; a
// later copy of the rest leaves the whole log, chained to the first.
func TestLogAfterCopy(t *testing.T) {
	ctx := context.Background()
	src := ventitest.NewMemStore()
	r1, err := ventitest.MakeTree(ctx, src, 2, 20<<10, 1)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := ventitest.MakeTree(ctx, src, 2, 20<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	srcAddr := ventitest.Serve(t, &venti.Server{Store: src})
	a, astore := ventitest.NewServer(t)
	e := newEngine(t, t.TempDir())
	if err := e.Exec(ctx, "target a "+a); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i, r := range []venti.Score{r1, r2} {
		rec := rootscor.Record{Score: r, Partition: "/fs.part", Venti: "local", Fsname: "fs", Time: time.Unix(int64(i), 0)}
		if err := e.scores.Append(rec); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, rec.String()+"\n")
	}
	held := func() (string, venti.Score) {
		c, ok, err := loadLogCopy(filepath.Join(e.opts.StateDir, "targets", "a", "rootscor"))
		if err != nil || !ok {
			t.Fatalf("no log copy: %v", err)
		}
		b, err := rootscor.ReadLog(ctx, astore, c.root)
		if err != nil {
			t.Fatal(err)
		}
		return string(b), c.root
	}
	st := run(t, e, "copy "+srcAddr+" a vac:"+r2.String(), Done)
	got, first := held()
	if got != lines[1] {
		t.Errorf("after copying r2 the target holds\n%q\nwant\n%q\n%s", got, lines[1], st)
	}
	if !strings.Contains(st, "\nrootscor a vac:") {
		t.Errorf("job does not say where the log went:\n%s", st)
	}
	run(t, e, "copy "+srcAddr+" a vac:"+r1.String(), Done)
	got, second := held()
	if got != lines[0]+lines[1] {
		t.Errorf("after copying both the target holds\n%q", got)
	}
	b, err := astore.Read(ctx, second, venti.RootType, venti.RootSize)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := venti.UnpackRoot(b)
	if err != nil {
		t.Fatal(err)
	}
	if rt.Prev != first {
		t.Errorf("second log's prev %v, want %v", rt.Prev, first)
	}
}
