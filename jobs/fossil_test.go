package jobs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"replfs/fossil"
	"replfs/fossil/fossiltest"
	"replfs/venti"
	"replfs/venti/arena"
	"replfs/venti/ventitest"
)

const (
	archive1 = "51c25c52bfe3e7b5be6891c5f218d9d14fb8ddcd" // the fixture fossil's first archive
	archive2 = "0842818bc4e6acc5ed5ca517cb45cb760844e9ed" // and its last
)

// fixtureVenti serves a copy of the fixture venti, which holds the
// fixture fossil's archives, and returns its address.
func fixtureVenti(t *testing.T) string {
	t.Helper()
	part := filepath.Join(t.TempDir(), "arenas.part")
	ventitest.CopyFixture(t, "venti", "arenas.part", part)
	s, err := arena.Open(context.Background(), []string{part}, arena.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return ventitest.Serve(t, &venti.Server{Store: s})
}

func jobStatus(t *testing.T, e *Engine, id int) string {
	t.Helper()
	s, _ := e.JobStatus(id)
	return s
}

// run runs one control message that starts one job and waits for it.
func run(t *testing.T, e *Engine, line, want string) string {
	t.Helper()
	ids, err := e.ExecJobs(context.Background(), line)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	if len(ids) != 1 {
		t.Fatalf("%s started %v", line, ids)
	}
	if st := wait(t, e, ids[0]); st != want {
		t.Fatalf("%s: %s, want %s:\n%s", line, st, want, jobStatus(t, e, ids[0]))
	}
	return jobStatus(t, e, ids[0])
}

func fakeLog(t *testing.T, path string) []string {
	b, _ := os.ReadFile(path)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// TestFossilVerbs runs fossilstart, snap, fossilize, fosreset and
// foshalt against the fake fossil on a real partition and the fixture
// venti.
func TestFossilVerbs(t *testing.T) {
	prog := fossiltest.FakeFossil(t)
	dir := t.TempDir()
	part := filepath.Join(dir, "fossil.part")
	ventitest.CopyFixture(t, "fossil", "fossil-v.part", part)
	flog := filepath.Join(dir, "fake.log")
	t.Setenv("FAKEFOSSIL_LOG", flog)
	t.Setenv("FAKEFOSSIL_ARCHIVE", archive2)
	t.Setenv("FAKEFOSSIL_DELAY", "300ms")
	addr := fixtureVenti(t)
	e := newEngine(t, filepath.Join(dir, "state"), prog)
	ctx := context.Background()

	if _, err := e.ExecJobs(ctx, "fossilize"); err != nil {
		t.Fatal(err)
	}
	if st := jobStatus(t, e, 1); wait(t, e, 1) != Failed || !strings.Contains(jobStatus(t, e, 1), "no fossil configured") {
		t.Errorf("fossilize without a fossil:\n%s", st)
	}
	if err := e.Exec(ctx, "target fx "+addr+"\nfossil -p "+prog+" -h fx -n fs1 -l tcp!127.0.0.1!5640 "+part); err != nil {
		t.Fatal(err)
	}
	if got := e.CtlText(); !strings.Contains(got, "fossil -h fx -l tcp!127.0.0.1!5640 -n fs1 -p "+prog+" "+part+"\n") {
		t.Errorf("ctl:\n%s", got)
	}
	st := run(t, e, "fossilize", Failed)
	if !strings.Contains(st, "error fossilize: no archive yet on "+part) {
		t.Errorf("fossilize of a fresh fossil:\n%s", st)
	}
	st = run(t, e, "snap", Failed)
	if !strings.Contains(st, "fossilstart first") {
		t.Errorf("snap with no fossil:\n%s", st)
	}

	st = run(t, e, "fossilstart", Done)
	if !strings.Contains(st, "result fossil on "+part+" pid ") {
		t.Errorf("fossilstart:\n%s", st)
	}
	st = run(t, e, "fossilstart", Failed)
	if !strings.Contains(st, "a fossil already runs on "+part) {
		t.Errorf("second fossilstart:\n%s", st)
	}

	st = run(t, e, "snap", Done)
	want := "result vac:" + archive2 + " " + part + " " + addr + " fs1 "
	if !strings.Contains(st, want) {
		t.Errorf("snap:\n%s\nwant %s", st, want)
	}
	if last, _ := fossil.Last(part); last.String() != archive2 {
		t.Errorf("last after snap %v", last)
	}
	st = run(t, e, "fossilize", Done)
	if !strings.Contains(st, want) {
		t.Errorf("fossilize:\n%s", st)
	}
	recs := e.scores.Records()
	if len(recs) != 1 || recs[0].Score.String() != archive2 || recs[0].Fsname != "fs1" {
		t.Errorf("rootscor:\n%s", e.RootScor())
	}

	// A score the venti does not have changes nothing, fossil included.
	before, _ := os.ReadFile(part)
	st = run(t, e, "fosreset 1c94de5d65de1a7370e6f1dc43e345c0ea721fab", Failed)
	if !strings.Contains(st, "error fosreset: vac:1c94de5d65de1a7370e6f1dc43e345c0ea721fab on "+addr+": ") {
		t.Errorf("fosreset on a missing score:\n%s", st)
	}
	if after, _ := os.ReadFile(part); !bytes.Equal(before, after) {
		t.Errorf("failed fosreset changed the partition")
	}
	if e.running(part) == nil {
		t.Errorf("failed fosreset stopped the fossil")
	}

	// Re-root on the first archive: fossil halted, partition formatted,
	// fossil started again.
	n := len(fakeLog(t, flog))
	st = run(t, e, "fosreset vac:"+archive1, Done)
	if !strings.Contains(st, "result "+part+" re-rooted on vac:"+archive1+" from "+addr) {
		t.Errorf("fosreset:\n%s", st)
	}
	wantLog := []string{"fsys all sync", "fsys all halt", "exit terminated", "start -t"}
	wantLog = append(wantLog, fossil.SeedCommands(part, "", "tcp!127.0.0.1!5640")...)
	if got := fakeLog(t, flog)[n:]; strings.Join(got, "\n") != strings.Join(wantLog, "\n") {
		t.Errorf("fossil saw\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantLog, "\n"))
	}
	_, s, err := fossil.ReadSuper(part)
	if err != nil || s.Last != venti.ZeroScore || s.Active != 1 || s.Archiving() {
		t.Errorf("super after fosreset %+v %v", s, err)
	}
	if e.running(part) == nil {
		t.Errorf("fossil not restarted")
	}
	if len(e.scores.Records()) != 1 {
		t.Errorf("fosreset recorded the old root again:\n%s", e.RootScor())
	}

	st = run(t, e, "foshalt", Done)
	if !strings.Contains(st, "result fossil on "+part+" halted") {
		t.Errorf("foshalt:\n%s", st)
	}
	if got := fakeLog(t, flog); got[len(got)-1] != "exit terminated" || got[len(got)-2] != "fsys all halt" {
		t.Errorf("fossil's last commands %q", got[len(got)-3:])
	}
	if st := run(t, e, "foshalt", Failed); !strings.Contains(st, "no fossil running on") {
		t.Errorf("foshalt twice:\n%s", st)
	}
}

// TestSnapTimeout: a fossil whose archive never comes fails snap after
// its timeout, recording nothing.
func TestSnapTimeout(t *testing.T) {
	prog := fossiltest.FakeFossil(t)
	dir := t.TempDir()
	part := filepath.Join(dir, "fossil.part")
	ventitest.CopyFixture(t, "fossil", "fossil-v.part", part)
	t.Setenv("FAKEFOSSIL_ARCHIVE", "")
	e := newEngine(t, filepath.Join(dir, "state"), prog)
	if err := e.Exec(context.Background(), "fossil -p "+prog+" -h tcp!127.0.0.1!1 "+part+"\nfossilstart"); err != nil {
		t.Fatal(err)
	}
	if st := wait(t, e, 1); st != Done {
		t.Fatalf("fossilstart %s:\n%s", st, jobStatus(t, e, 1))
	}
	st := run(t, e, "snap -t 1", Failed)
	if !strings.Contains(st, "error snap: no archive after 1s") {
		t.Errorf("snap:\n%s", st)
	}
	if len(e.scores.Records()) != 0 {
		t.Errorf("recorded %s", e.RootScor())
	}
}

// TestTrickleFossil: trickle's fossil source snapshots the fossil and
// then copies the source's arenas, in one run.
func TestTrickleFossil(t *testing.T) {
	prog := fossiltest.FakeFossil(t)
	dir := t.TempDir()
	part := filepath.Join(dir, "fossil.part")
	ventitest.CopyFixture(t, "fossil", "fossil-v.part", part)
	t.Setenv("FAKEFOSSIL_ARCHIVE", archive2)
	t.Setenv("FAKEFOSSIL_DELAY", "100ms")
	fx := fixtureVenti(t)
	backup, store := ventitest.NewServer(t)
	e := newEngine(t, filepath.Join(dir, "state"), prog)
	if err := e.Exec(context.Background(), "target fx "+fx+"\ntarget backup "+backup+"\nfossil -p "+prog+" -h fx "+part); err != nil {
		t.Fatal(err)
	}
	run(t, e, "fossilstart", Done)
	st := run(t, e, "trickle fossil backup", Done)
	for _, w := range []string{
		"result vac:" + archive2 + " " + part + " " + fx + " ",
		"result backup: arenas 2 clumps 941 bytes 6870104 end arenas01 0x26e11d\n",
	} {
		if !strings.Contains(st, w) {
			t.Errorf("trickle fossil lacks %q:\n%s", w, st)
		}
	}
	// The arenas' 941 blocks, and the root score log's seven (data; the
	// root directory's entries and its two metadata blocks; the top
	// block; the vac and replfs roots), naming the archive just made.
	if store.Len() != 941+7 || len(e.scores.Records()) != 1 {
		t.Errorf("backup has %d blocks; rootscor:\n%s", store.Len(), e.RootScor())
	}
	checkLogCopy(t, e, "backup", store)
	if _, err := e.ExecJobs(context.Background(), "trickle local fossil"); err == nil {
		t.Errorf("fossil accepted as a destination")
	}
}

// TestFosresetSavesOldRoot: the root a fosreset replaces is recorded
// first, when the log does not already end with it.
func TestFosresetSavesOldRoot(t *testing.T) {
	dir := t.TempDir()
	part := filepath.Join(dir, "fossil.part")
	ventitest.CopyFixture(t, "fossil", "fossil.part", part) // last: archive2
	addr := fixtureVenti(t)
	e := newEngine(t, filepath.Join(dir, "state"))
	if err := e.Exec(context.Background(), "fossil -h "+addr+" -n fs "+part); err != nil {
		t.Fatal(err)
	}
	st := run(t, e, "fosreset vac:"+archive1, Done)
	if !strings.Contains(st, "saved vac:"+archive2+" "+part+" "+addr+" fs ") {
		t.Errorf("fosreset:\n%s", st)
	}
	recs := e.scores.Records()
	if len(recs) != 1 || recs[0].Score.String() != archive2 {
		t.Errorf("rootscor:\n%s", e.RootScor())
	}
	if last, _ := fossil.Last(part); last != venti.ZeroScore {
		t.Errorf("last after fosreset %v", last)
	}
}

// TestSnapFossilDies: a fossil that dies while snap waits for its
// archive fails the job with a reason, not a formatting error.
func TestSnapFossilDies(t *testing.T) {
	prog := fossiltest.FakeFossil(t)
	dir := t.TempDir()
	part := filepath.Join(dir, "fossil.part")
	ventitest.CopyFixture(t, "fossil", "fossil-v.part", part)
	t.Setenv("FAKEFOSSIL_ARCHIVE", "")
	e := newEngine(t, filepath.Join(dir, "state"), prog)
	if err := e.Exec(context.Background(), "fossil -p "+prog+" -h tcp!127.0.0.1!1 "+part); err != nil {
		t.Fatal(err)
	}
	run(t, e, "fossilstart", Done)
	ids, err := e.ExecJobs(context.Background(), "snap")
	if err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(jobStatus(t, e, ids[0]), "phase waiting for the archive") {
		time.Sleep(10 * time.Millisecond)
	}
	p := e.running(part)
	if p == nil {
		t.Fatal("no fossil running")
	}
	if pr, err := os.FindProcess(p.proc.Pid); err == nil {
		pr.Kill()
	}
	if st := wait(t, e, ids[0]); st != Failed {
		t.Fatalf("snap %s", st)
	}
	st := jobStatus(t, e, ids[0])
	if strings.Contains(st, "%!") || !strings.Contains(st, "error snap: fossil on "+part+" exited") {
		t.Errorf("snap:\n%s", st)
	}
}

// TestFsnameFromOptions: the name recorded with a root is the fossil's
// -n, else the system's name as the engine's options give it; the
// engine reads no environment.
func TestFsnameFromOptions(t *testing.T) {
	dir := t.TempDir()
	part := filepath.Join(dir, "fossil.part")
	ventitest.CopyFixture(t, "fossil", "fossil.part", part)
	t.Setenv("sysname", "fromenv")
	e := newEngineOpts(t, Options{StateDir: filepath.Join(dir, "state"), Sysname: "alpha"})
	if err := e.Exec(context.Background(), "fossil -h tcp!127.0.0.1!1 "+part); err != nil {
		t.Fatal(err)
	}
	if st := run(t, e, "fossilize", Done); !strings.Contains(st, " tcp!127.0.0.1!1 alpha ") {
		t.Errorf("fossilize:\n%s", st)
	}
}

// TestFossilizeUnchanged: fossilize of an archive the log already ends
// with (for that partition) appends nothing and says so.
func TestFossilizeUnchanged(t *testing.T) {
	dir := t.TempDir()
	part := filepath.Join(dir, "fossil.part")
	other := filepath.Join(dir, "other.part")
	ventitest.CopyFixture(t, "fossil", "fossil.part", part) // last: archive2
	ventitest.CopyFixture(t, "fossil", "fossil.part", other)
	e := newEngine(t, filepath.Join(dir, "state"))
	if err := e.Exec(context.Background(), "fossil -h tcp!127.0.0.1!1 -n fs "+part); err != nil {
		t.Fatal(err)
	}
	first := run(t, e, "fossilize", Done)
	for range 3 {
		st := run(t, e, "fossilize", Done)
		if !strings.Contains(st, "result vac:"+archive2+" "+part+" ") || !strings.Contains(st, "note already recorded\n") {
			t.Errorf("fossilize again:\n%s", st)
		}
	}
	if strings.Contains(first, "note already recorded") {
		t.Errorf("first fossilize:\n%s", first)
	}
	run(t, e, "fossilize "+other, Done) // another partition's newest is its own
	if recs := e.scores.Records(); len(recs) != 2 || recs[1].Partition != other {
		t.Errorf("rootscor:\n%s", e.RootScor())
	}
}

// TestFossilRefusesFiles: fosreset and fossilstart touch only fossil
// partitions (or, to format, zeros), and never a file replfs itself
// uses, by whatever name.
func TestFossilRefusesFiles(t *testing.T) {
	prog := fossiltest.FakeFossil(t)
	dir := t.TempDir()
	addr := fixtureVenti(t)
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte(strings.Repeat("a line of someone's notes\n", 2<<20/26)), 0600)
	// The embedded source's partition: zeros, so only being replfs's
	// own refuses it.
	src := filepath.Join(dir, "arenas")
	os.WriteFile(src, make([]byte, 2<<20), 0600)
	state := filepath.Join(dir, "state")
	e, err := New(Options{StateDir: state, Embedded: &Source{Addr: "tcp!127.0.0.1!1", Partitions: []string{src},
		Flush: func(context.Context) error { return nil }}, Fossils: []string{prog}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Exec(context.Background(), "fossil -p "+prog+" -h "+addr+" "+text); err != nil {
		t.Fatal(err)
	}
	srcLink := filepath.Join(dir, "innocent")
	if err := os.Link(src, srcLink); err != nil {
		t.Fatal(err)
	}
	stateFile := filepath.Join(dir, "config-link")
	if err := os.Link(filepath.Join(state, "config"), stateFile); err != nil {
		t.Fatal(err)
	}
	before := map[string][]byte{}
	for _, f := range []string{text, src, filepath.Join(state, "config")} {
		before[f], _ = os.ReadFile(f)
	}
	for _, tt := range []struct{ line, err string }{
		{"fosreset vac:" + archive1, "error fosreset: " + text + ": not a fossil partition (holds text)\n"},
		{"fosreset vac:" + archive1 + " " + srcLink + " " + addr, "error fosreset: " + srcLink + ": replfs's source arena partition (" + src + ")\n"},
		{"fosreset vac:" + archive1 + " " + stateFile + " " + addr, "error fosreset: " + stateFile + ": replfs's own file (" + filepath.Join(state, "config") + ")\n"},
		{"fossilstart", "error fossilstart: " + text + ": not a fossil partition (holds text)\n"},
		{"fossilstart " + srcLink, "error fossilstart: " + srcLink + ": replfs's source arena partition (" + src + ")\n"},
	} {
		if st := run(t, e, tt.line, Failed); !strings.HasSuffix(st, tt.err) {
			t.Errorf("%s:\n%s\nwant %s", tt.line, st, tt.err)
		}
	}
	for f, b := range before {
		if after, _ := os.ReadFile(f); !bytes.Equal(b, after) {
			t.Errorf("%s changed", f)
		}
	}
}

// TestFossilProgram: the fossil program comes from replfs's start
// (Options.Fossils); ctl may choose among those, never name another.
func TestFossilProgram(t *testing.T) {
	prog := fossiltest.FakeFossil(t)
	dir := t.TempDir()
	part := filepath.Join(dir, "fossil.part")
	ventitest.CopyFixture(t, "fossil", "fossil-v.part", part)
	marker := filepath.Join(dir, "ran")
	evil := filepath.Join(dir, "evil.sh")
	os.WriteFile(evil, []byte("#!/bin/sh\ntouch "+marker+"\n"), 0700)
	state := filepath.Join(dir, "state")
	newE := func(fossils ...string) (*Engine, []string) {
		var logged []string
		e, err := New(Options{StateDir: state, Fossils: fossils,
			Logf: func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e, logged
	}
	e, _ := newE(prog)
	ctx := context.Background()
	want := `fossil: program "` + evil + `" is not one replfs was started with (-F)`
	if err := e.Exec(ctx, "fossil -p "+evil+" -h tcp!127.0.0.1!1 "+part); err == nil || err.Error() != want {
		t.Errorf("fossil -p evil: %v", err)
	}
	if e.CtlText() != "" {
		t.Errorf("ctl:\n%s", e.CtlText())
	}
	// The default is the first program; naming it is fine too.
	for _, line := range []string{"fossil -h tcp!127.0.0.1!1 " + part, "fossil -p " + prog + " -h tcp!127.0.0.1!1 " + part} {
		if err := e.Exec(ctx, line); err != nil {
			t.Fatal(err)
		}
		if st := run(t, e, "fossilstart", Done); !strings.Contains(st, "result fossil on "+part+" pid ") {
			t.Errorf("fossilstart:\n%s", st)
		}
		run(t, e, "foshalt", Done)
	}
	e.Close()

	// A configuration saved naming another program (by an older replfs)
	// is reported at start, and fossilstart refuses it.
	os.WriteFile(filepath.Join(state, "config"), []byte("fossil -p "+evil+" -h tcp!127.0.0.1!1 "+part+"\n"), 0600)
	e, logged := newE(prog)
	if len(logged) != 1 || !strings.Contains(logged[0], `program "`+evil+`" is not one replfs was started with (-F); fossilstart refuses it`) {
		t.Errorf("logged %q", logged)
	}
	if st := run(t, e, "fossilstart", Failed); !strings.HasSuffix(st, "error fossilstart: "+want[len("fossil: "):]+"\n") {
		t.Errorf("fossilstart of a saved evil program:\n%s", st)
	}
	e.Close()
	// With no program at all, fossilstart says how to give one.
	os.WriteFile(filepath.Join(state, "config"), []byte("fossil -h tcp!127.0.0.1!1 "+part+"\n"), 0600)
	e, _ = newE()
	if st := run(t, e, "fossilstart", Failed); !strings.HasSuffix(st, "error fossilstart: no fossil program: start replfs with -F program\n") {
		t.Errorf("fossilstart with no program:\n%s", st)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the ctl-named program ran")
	}
}
