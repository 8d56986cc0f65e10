package jobs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"replfs/venti/arena"
	"replfs/venti/ventitest"
)

// newEngine returns an engine whose embedded source is the fixture
// partition (read only: flushing is a no-op), started with the fossil
// programs given.
func newEngine(t *testing.T, state string, fossils ...string) *Engine {
	t.Helper()
	return newEngineOpts(t, Options{StateDir: state, Fossils: fossils})
}

// newEngineOpts is newEngine with options; the embedded source is set.
func newEngineOpts(t *testing.T, opts Options) *Engine {
	t.Helper()
	fx := ventitest.Fixtures(t, "venti")
	opts.Embedded = &Source{Addr: "tcp!127.0.0.1!1",
		Partitions: []string{filepath.Join(fx, "arenas.part")},
		Flush:      func(context.Context) error { return nil }}
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func wait(t *testing.T, e *Engine, id int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := e.WaitJob(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestEngineVentiprog(t *testing.T) {
	state := t.TempDir()
	e := newEngine(t, state)
	ctx := context.Background()
	a1, s1 := ventitest.NewServer(t)
	a2, s2 := ventitest.NewServer(t)
	if err := e.Exec(ctx, "target one "+a1+"\n# a comment\ntarget two "+a2+"\n"); err != nil {
		t.Fatal(err)
	}
	want := "target one " + a1 + "\ntarget two " + a2 + "\n"
	if got := e.CtlText(); got != want {
		t.Errorf("ctl text %q, want %q", got, want)
	}
	// A write with a bad line changes nothing.
	for _, bad := range []string{"target three tcp!x!1\nfrob", "target -d nosuch", "ventiprog nosuch", "cancel 99"} {
		if err := e.Exec(ctx, bad); err == nil {
			t.Errorf("Exec(%q) succeeded", bad)
		}
	}
	if got := e.CtlText(); got != want {
		t.Errorf("after bad writes, ctl text %q", got)
	}
	if err := e.Exec(ctx, "ventiprog"); err != nil {
		t.Fatal(err)
	}
	if st := wait(t, e, 1); st != Done {
		s, _ := e.JobStatus(1)
		t.Fatalf("job 1 %s:\n%s", st, s)
	}
	if s1.Len() != 941 || s2.Len() != 941 {
		t.Errorf("targets have %d and %d blocks", s1.Len(), s2.Len())
	}
	js, _ := e.JobStatus(1)
	for _, w := range []string{"state done\n", "cmd ventiprog\n", "clumps 1882\n",
		"result one: arenas 2 clumps 941 bytes 6870104 end arenas01 0x26e11d\n"} {
		if !strings.Contains(js, w) {
			t.Errorf("job status lacks %q:\n%s", w, js)
		}
	}
	ts, ok := e.TargetStatus("one")
	if !ok {
		t.Fatal("no status for one")
	}
	for _, w := range []string{"name one\n", "state idle\n", "cursor arenas01 0x26e11d\n", "lagbytes 0\n",
		"lagclumps 0\n", "runclumps 941\n", "totalbytes 6870104\n", "lasterror -\n"} {
		if !strings.Contains(ts, w) {
			t.Errorf("target status lacks %q:\n%s", w, ts)
		}
	}
	if !strings.HasPrefix(ts, "name one\naddr "+a1+"\nstate idle\ncursor ") {
		t.Errorf("status order:\n%s", ts)
	}
	wc := e.WrCmd()
	if !strings.Contains(wc, "wrarena -h "+a1+" -o 4988928 ") || !strings.Contains(wc, " 0x26e11d\n") {
		t.Errorf("wrcmd %q", wc)
	}
	// The log tells what happened.
	b, _, _ := e.LogRead(ctx, 0, 1<<20)
	if !strings.Contains(string(b), "job 1: ventiprog") || !strings.Contains(string(b), "job 1 done") {
		t.Errorf("log:\n%s", b)
	}
	// Configuration survives a restart.
	e.Close()
	e2 := newEngine(t, state)
	if got := e2.CtlText(); got != want {
		t.Errorf("after restart: %q", got)
	}
	if ts, _ := e2.TargetStatus("two"); !strings.Contains(ts, "cursor arenas01 0x26e11d\n") {
		t.Errorf("cursor lost in restart:\n%s", ts)
	}
}

func TestEngineFailureAndImport(t *testing.T) {
	e := newEngine(t, t.TempDir())
	ctx := context.Background()
	good, _ := ventitest.NewServer(t)
	down := "tcp!127.0.0.1!" + "1" // nothing listens on port 1
	if err := e.Exec(ctx, "target good "+good+"\ntarget down "+down); err != nil {
		t.Fatal(err)
	}
	e.Exec(ctx, "ventiprog")
	if st := wait(t, e, 1); st != Failed {
		t.Errorf("job state %s, want failed", st)
	}
	js, _ := e.JobStatus(1)
	if !strings.Contains(js, "error down: dial "+down+": connection refused\n") {
		t.Errorf("job status:\n%s", js)
	}
	// Nothing was sent to it: no success-shaped result line.
	if strings.Contains(js, "result down:") {
		t.Errorf("a result line for the unreachable target:\n%s", js)
	}
	ts, _ := e.TargetStatus("down")
	if !strings.Contains(ts, "state failed\n") || !strings.Contains(ts, "connection refused") {
		t.Errorf("down status:\n%s", ts)
	}
	if gs, _ := e.TargetStatus("good"); !strings.Contains(gs, "state idle\n") || !strings.Contains(gs, "lagbytes 0\n") {
		t.Errorf("good status:\n%s", gs)
	}
	// Import a site's wrcmd line for the down target.
	if err := e.ImportWrCmd(ctx, "wrarena -h "+down+" -o 4988928 /dev/sdC0/arenas 0x12156\n"); err != nil {
		t.Fatal(err)
	}
	ts, _ = e.TargetStatus("down")
	if !strings.Contains(ts, "cursor arenas01 0x12156\n") || !strings.Contains(ts, "lagclumps 412\n") {
		t.Errorf("after import:\n%s", ts)
	}
	if err := e.ImportWrCmd(ctx, "wrarena -h tcp!nobody!1 -o 4988928 p 0x0"); err == nil {
		t.Error("import for an unknown target accepted")
	}
	if err := e.ImportWrCmd(ctx, "venti="+good+"\narenas01=0x100\n"); err != nil {
		t.Error(err)
	}
	if gs, _ := e.TargetStatus("good"); !strings.Contains(gs, "cursor arenas01 0x100\n") {
		t.Errorf("bkup.info import:\n%s", gs)
	}
}

func TestEngineCancel(t *testing.T) {
	e := newEngine(t, t.TempDir())
	ctx := context.Background()
	// A target that accepts the connection and then never answers.
	l, stop := silentServer(t)
	defer stop()
	if err := e.Exec(ctx, "target slow "+l); err != nil {
		t.Fatal(err)
	}
	e.Exec(ctx, "ventiprog")
	time.Sleep(50 * time.Millisecond)
	if err := e.JobCtl(1, "cancel\n"); err != nil {
		t.Fatal(err)
	}
	if st := wait(t, e, 1); st != Cancelled {
		t.Errorf("state %s, want cancelled", st)
	}
	if err := e.JobCtl(1, "frob"); err == nil || err.Error() != `unknown control message "frob"` {
		t.Errorf("bad job ctl: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.opts.StateDir, "config")); err != nil {
		t.Error(err)
	}
}

// TestJobHistory: finished jobs, and the numbering, survive a restart.
func TestJobHistory(t *testing.T) {
	state := t.TempDir()
	e := newEngine(t, state)
	ctx := context.Background()
	a, _ := ventitest.NewServer(t)
	e.Exec(ctx, "target one "+a)
	e.Exec(ctx, "ventiprog -n")
	wait(t, e, 1)
	before, _ := e.JobStatus(1)
	e.Close()
	e = newEngine(t, state)
	if got, ok := e.JobStatus(1); !ok || got != before {
		t.Errorf("job 1 after restart: %q, want %q", got, before)
	}
	e.Exec(ctx, "ventiprog -n")
	if ids := e.Jobs(); len(ids) != 2 || ids[1] != 2 {
		t.Errorf("jobs %v", ids)
	}
	if js, _ := e.JobStatus(1); !strings.Contains(js, "result one: would send arenas 2 clumps 941 bytes 6870104\n") {
		t.Errorf("dry run result:\n%s", js)
	}
}

// TestJobCutShort: a job saved as running when replfs stopped without
// ending it comes back failed, and its number is not reused.
func TestJobCutShort(t *testing.T) {
	state := t.TempDir()
	os.MkdirAll(filepath.Join(state, "jobs"), 0700)
	const running = "state running\ncmd ventiprog\ncreated 2026-12-02T22:05:12Z\nstarted 2026-12-02T22:05:12Z\nended -\n" +
		"clumps 0\nbytes 0\nblocks 0\nrate 0\n"
	os.WriteFile(filepath.Join(state, "jobs", "7"), []byte(running), 0600)
	e := newEngine(t, state)
	st, ok := e.JobStatus(7)
	if want := strings.Replace(running, "running", "failed", 1) + "error replfs stopped before the job ended\n"; !ok || st != want {
		t.Errorf("job 7: %q, want %q", st, want)
	}
	e.Exec(context.Background(), "verify tcp!127.0.0.1!1 vac:1c94de5d65de1a7370e6f1dc43e345c0ea721fab")
	if ids := e.Jobs(); ids[len(ids)-1] != 8 {
		t.Errorf("jobs %v", ids)
	}
}

// TestBadSavedName: a configuration saved with a target name ctl now
// refuses (a NUL in it) is reported and skipped at start; the rest of
// it, the source included, still holds.
func TestBadSavedName(t *testing.T) {
	state := t.TempDir()
	conf := "source tcp!127.0.0.1!2 /nonexistent/arenas\ntarget 'a\x00b' tcp!127.0.0.1!1\ntarget good tcp!127.0.0.1!3\n"
	if err := os.WriteFile(filepath.Join(state, "config"), []byte(conf), 0600); err != nil {
		t.Fatal(err)
	}
	var logged []string
	e, err := New(Options{StateDir: state, Logf: func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if got := e.Targets(); len(got) != 1 || got[0] != "good" {
		t.Errorf("targets %q", got)
	}
	if !strings.HasPrefix(e.CtlText(), "source tcp!127.0.0.1!2 /nonexistent/arenas\n") {
		t.Errorf("ctl:\n%s", e.CtlText())
	}
	if len(logged) != 1 || !strings.Contains(logged[0], `config line 2: bad target name "a\x00b"; skipped`) {
		t.Errorf("logged %q", logged)
	}
	if has, err := ConfiguredSource(state); !has || err != nil {
		t.Errorf("ConfiguredSource: %v %v", has, err)
	}
}

// damagedSource returns a copy of the fixture partition whose arenas01
// has its first clump's data damaged.
func damagedSource(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "arenas.part")
	ventitest.CopyFixture(t, "venti", "arenas.part", path)
	p, err := arena.OpenPartition(path)
	if err != nil {
		t.Fatal(err)
	}
	off := p.Arenas[1].Base() + arena.ClumpSize + 16
	p.Close()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte("XXXXXXXX"), off); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCorruptSource: a corrupt source clump is skipped, and everyone is
// told: the job is done with warnings and a corrupt result, the target's
// lasterror and /status name the arena and offset.
func TestCorruptSource(t *testing.T) {
	e, err := New(Options{StateDir: t.TempDir(), Embedded: &Source{Addr: "tcp!127.0.0.1!1",
		Partitions: []string{damagedSource(t)}, Flush: func(context.Context) error { return nil }}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	a, store := ventitest.NewServer(t)
	if err := e.Exec(context.Background(), "target one "+a); err != nil {
		t.Fatal(err)
	}
	st := run(t, e, "ventiprog", Done)
	const where = "arena arenas01: clump 0x0 has mismatched score"
	for _, w := range []string{"warnings 1\n", "result corrupt one: 1 clump skipped, first " + where,
		"result one: arenas 2 clumps 940 "} {
		if !strings.Contains(st, w) {
			t.Errorf("job status lacks %q:\n%s", w, st)
		}
	}
	if store.Len() != 940 {
		t.Errorf("target has %d blocks", store.Len())
	}
	ts, _ := e.TargetStatus("one")
	if !strings.Contains(ts, "state idle\n") || !regexp.MustCompile(`\nlasterror \S+ source corrupt: 1 clump skipped, first `+where).MatchString(ts) {
		t.Errorf("target status:\n%s", ts)
	}
	if s := e.Status(); !strings.Contains(s, "\ncorrupt "+where) {
		t.Errorf("/status:\n%s", s)
	}
}

// A target's lag is given in both measures, each named: lagbytes of
// clump log as stored, lagdata of block bytes, the measure a dry run's
// would send line and a run's bytes use.
func TestLagMeasures(t *testing.T) {
	e := newEngine(t, t.TempDir())
	a, _ := ventitest.NewServer(t)
	if err := e.Exec(context.Background(), "target a "+a); err != nil {
		t.Fatal(err)
	}
	ts, _ := e.TargetStatus("a")
	if !strings.Contains(ts, "lagclumps 941\n") || !strings.Contains(ts, "lagdata 6870104\n") {
		t.Errorf("status:\n%s", ts)
	}
	st := run(t, e, "ventiprog -n a", Done)
	if !strings.Contains(st, "would send arenas 2 clumps 941 bytes 6870104\n") {
		t.Errorf("dry run:\n%s", st)
	}
	if strings.Contains(ts, "lagbytes 6870104\n") {
		t.Errorf("lagbytes counts block bytes:\n%s", ts)
	}
}

// Two targets at one address get separate cursors: /log says so.
func TestSameAddressWarns(t *testing.T) {
	e := newEngine(t, t.TempDir())
	ctx := context.Background()
	a, _ := ventitest.NewServer(t)
	if err := e.Exec(ctx, "target one "+a+"\ntarget two "+a); err != nil {
		t.Fatal(err)
	}
	b, _, _ := e.LogRead(ctx, 0, 1<<20)
	if !strings.Contains(string(b), "warning: targets one and two have one address, "+a) {
		t.Errorf("log:\n%s", b)
	}
}

// A target's status shows the offset sent beside the one committed,
// and its rate and ETA follow the recent rate, not the run's average,
// so the ETA converges.
func TestSentAndRecentRate(t *testing.T) {
	tg := newTarget(t.TempDir(), "b", "tcp!b!1", false)
	t0 := time.Unix(1_000_000, 0)
	tg.begin(t0, arena.Cursor{"arenas01": {Offset: 0x100}})
	var bytes int64
	now := t0
	for i := 1; i <= 120; i++ {
		now = t0.Add(time.Duration(i) * time.Second)
		if i <= 60 {
			bytes += 1e6 // a slow start: 1 MB/s
		} else {
			bytes += 10e6 // then 10 MB/s
		}
		tg.progress(now, arena.Progress{Arena: "arenas01", Offset: 0x100 + bytes, Bytes: bytes})
	}
	s := tg.snapshot()
	if s.rate < 9.5e6 || s.rate > 10.5e6 {
		t.Errorf("rate %.0f, want the recent 10 MB/s (the run's average is %.0f)", s.rate, float64(bytes)/120)
	}
	l := lag{known: true, arena: "arenas01", offset: 0x100, data: bytes + 100e6}
	st := s.render(l, now)
	if !strings.Contains(st, fmt.Sprintf("sent arenas01 %#x\n", 0x100+bytes)) || !strings.Contains(st, "cursor arenas01 0x100\n") {
		t.Errorf("status:\n%s", st)
	}
	// 100 MB left past what was sent, at 10 MB/s: 10 s.
	if want := "eta " + now.Add(10*time.Second).UTC().Format(time.RFC3339) + "\n"; !strings.Contains(st, want) {
		t.Errorf("status lacks %q:\n%s", want, st)
	}
}

// /log, a target's last state and error, and the retries jobs made on
// it outlive a restart; the log's files stay bounded.
func TestDurableLogAndTargetState(t *testing.T) {
	state := t.TempDir()
	e := newEngine(t, state)
	ctx := context.Background()
	if err := e.Exec(ctx, "set retryseconds 1\nset maxretries 1\ntarget down tcp!127.0.0.1!1"); err != nil {
		t.Fatal(err)
	}
	run(t, e, "trickle local down", Failed)
	ts, _ := e.TargetStatus("down")
	if !strings.Contains(ts, "state failed\n") || !strings.Contains(ts, "retries 1\n") {
		t.Fatalf("status:\n%s", ts)
	}
	logText, _, _ := e.LogRead(ctx, 0, 1<<20)
	e.Close()

	e2 := newEngine(t, state)
	ts2, _ := e2.TargetStatus("down")
	for _, k := range []string{"state", "lasterror", "retries"} {
		if a, b := statusLine2(ts, k), statusLine2(ts2, k); a != b {
			t.Errorf("after a restart %s is %q, was %q", k, b, a)
		}
	}
	b, _, _ := e2.LogRead(ctx, 0, 1<<20)
	if !strings.HasPrefix(string(b), string(logText)) {
		t.Errorf("after a restart /log is\n%s\nwas\n%s", b, logText)
	}
	// Bounded: a flood of events leaves at most two files of maxLogFile.
	for i := range 6000 {
		e2.event("event %d %s", i, strings.Repeat("x", 370))
	}
	var total int64
	for _, f := range []string{"log", "log.old"} {
		if st, err := os.Stat(filepath.Join(state, f)); err == nil {
			total += st.Size()
		}
	}
	if total > 2*maxLogFile {
		t.Errorf("log files hold %d bytes", total)
	}
	b, _, _ = e2.LogRead(ctx, 0, 1<<20)
	if len(b) > maxLog || !strings.Contains(string(b), "event 5999 ") {
		t.Errorf("/log holds %d bytes, newest %q", len(b), b[max(0, len(b)-100):])
	}
}

func statusLine2(text, key string) string {
	for _, l := range strings.Split(text, "\n") {
		if k, v, _ := strings.Cut(l, " "); k == key {
			return v
		}
	}
	return ""
}
