package test

import (
	"io"
	"net"
	"sort"
	"strings"
	"testing"

	"9fans.net/go/plan9"
	k9p "github.com/knusbaum/go9p/client"
	"github.com/knusbaum/go9p/proto"
)

// TestReplfs9fansClient drives replfs through 9fans.net/go/plan9/client:
// listing, reading, good and bad ctl writes, and a ventiprog job from the
// embedded venti to two of our ventis, its status read while it runs.
func TestReplfs9fansClient(t *testing.T) {
	r := startReplfs(t, "")
	one := serveVenti(t, newPartition(t, "512m", "64m"))
	two := serveVenti(t, newPartition(t, "512m", "64m"))
	writeBlocks(t, r.venti, 1, 12000) // 96 MiB into the embedded venti
	fs := r.mount9(t)

	d, err := fs.Open("/", plan9.OREAD)
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := d.Dirreadall()
	d.Close()
	var names []string
	for _, x := range dirs {
		names = append(names, x.Name)
	}
	if err != nil || strings.Join(names, " ") != "ctl status rootscor wrcmd log targets jobs" {
		t.Fatalf("ls /: %v %v", names, err)
	}
	if err := write9(t, fs, "/ctl", "target one "+one.addr+"\n# two targets\ntarget two "+two.addr+"\n"); err != nil {
		t.Fatal(err)
	}
	config := "target one " + one.addr + "\ntarget two " + two.addr + "\n"
	for _, tt := range []struct{ write, err string }{
		{"frob", `unknown control message "frob"`},
		{"target three", "usage: target [-r rate] [-c conns] name addr | target -d name"},
		{"target three tcp!x!1\ncancel 5", "no job 5"},
		{"target -d nosuch", "no target nosuch"},
		{"ventiprog -x", "usage: ventiprog [-nq] [target ...]"},
	} {
		if err := write9(t, fs, "/ctl", tt.write); err == nil || err.Error() != tt.err {
			t.Errorf("write %q: %v, want %q", tt.write, err, tt.err)
		}
	}
	if got := read9(t, fs, "/ctl"); got != config {
		t.Errorf("/ctl after bad writes: %q, want %q", got, config)
	}
	if err := write9(t, fs, "/ctl", "ventiprog"); err != nil {
		t.Fatal(err)
	}
	final, seen := waitJob(t, func() string { return read9(t, fs, "/jobs/1/status") })
	if !strings.HasPrefix(final, "state done\ncmd ventiprog\n") {
		t.Fatalf("job 1:\n%s", final)
	}
	if len(seen) < 2 || (seen[0] != "running" && seen[0] != "queued") {
		t.Errorf("states seen %v: status not read while running", seen)
	}
	for _, tg := range []*ventiProc{one, two} {
		if n := tg.clumps(t); n != 12000 {
			t.Errorf("%s has %d clumps, want 12000", tg.addr, n)
		}
	}
	ts := read9(t, fs, "/targets/one/status")
	for _, w := range []string{"state idle\n", "lagbytes 0\n", "lagclumps 0\n", "runclumps 12000\n", "lasterror -\n"} {
		if !strings.Contains(ts, w) {
			t.Errorf("/targets/one/status lacks %q:\n%s", w, ts)
		}
	}
	if w := read9(t, fs, "/wrcmd"); strings.Count(w, "wrarena -h ") != 2 {
		t.Errorf("/wrcmd:\n%s", w)
	}
	if st := read9(t, fs, "/status"); !strings.Contains(st, "target one "+one.addr+" idle\n") {
		t.Errorf("/status:\n%s", st)
	}
}

// TestReplfsKnusbaumClient does the same through knusbaum/go9p's client,
// which has a 9P codec of its own.
func TestReplfsKnusbaumClient(t *testing.T) {
	r := startReplfs(t, "")
	tg := serveVenti(t, newPartition(t, "128m", "16m"))
	writeBlocks(t, r.venti, 2, 500)
	nc, err := net.Dial("tcp", r.addr9p)
	if err != nil {
		t.Fatal(err)
	}
	c, err := k9p.NewClient(nc, "glenda", "")
	if err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		f, err := c.Open(p, proto.Oread)
		if err != nil {
			t.Fatalf("open %s: %v", p, err)
		}
		defer f.Close()
		b, err := io.ReadAll(f)
		if err != nil {
			t.Fatalf("read %s: %v", p, err)
		}
		return string(b)
	}
	write := func(p, text string) error {
		f, err := c.Open(p, proto.Owrite)
		if err != nil {
			t.Fatalf("open %s: %v", p, err)
		}
		defer f.Close()
		_, err = f.Write([]byte(text))
		return err
	}
	stats, err := c.Readdir("/")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range stats {
		names = append(names, s.Name)
	}
	sort.Strings(names)
	if strings.Join(names, " ") != "ctl jobs log rootscor status targets wrcmd" {
		t.Errorf("readdir /: %v", names)
	}
	if err := write("/ctl", "target backup "+tg.addr+"\n"); err != nil {
		t.Fatal(err)
	}
	if err := write("/ctl", "frob\n"); err == nil || !strings.Contains(err.Error(), `unknown control message "frob"`) {
		t.Errorf("bad write: %v", err)
	}
	if got := read("/ctl"); got != "target backup "+tg.addr+"\n" {
		t.Errorf("/ctl %q", got)
	}
	if err := write("/ctl", "ventiprog backup\n"); err != nil {
		t.Fatal(err)
	}
	final, _ := waitJob(t, func() string { return read("/jobs/1/status") })
	if !strings.Contains(final, "state done\n") || !strings.Contains(final, "result backup: arenas 1 clumps 500 ") {
		t.Errorf("job:\n%s", final)
	}
	if st, err := c.Stat("/targets/backup/status"); err != nil || st.Mode != 0444 {
		t.Errorf("stat: %v %v", st, err)
	}
	if n := tg.clumps(t); n != 500 {
		t.Errorf("target has %d clumps", n)
	}
}
