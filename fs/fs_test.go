package fs

import (
	"context"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"9fans.net/go/plan9"
	"9fans.net/go/plan9/client"
)

// start serves a fake engine on loopback and returns its address.
func start(t *testing.T) (*fakeEngine, string) {
	t.Helper()
	f := newFake()
	s := &Server{Engine: f}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx, l); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return f, l.Addr().String()
}

func mount(t *testing.T, addr string) *client.Fsys {
	t.Helper()
	c, err := client.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fs, err := c.Attach(nil, "glenda", "")
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func readFile(t *testing.T, fs *client.Fsys, name string) string {
	t.Helper()
	f, err := fs.Open(name, plan9.OREAD)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return string(b)
}

func TestTree(t *testing.T) {
	_, addr := start(t)
	fs := mount(t, addr)
	ctl, err := fs.Open("/ctl", plan9.OWRITE)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.Write([]byte("target a\ntarget b\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.Write([]byte("frob")); err == nil || err.Error() != `unknown control message "frob"` {
		t.Errorf("bad ctl write: %v", err)
	}
	ctl.Close()
	if got := readFile(t, fs, "/ctl"); got != "target a\ntarget b\n" {
		t.Errorf("/ctl %q", got)
	}
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
		t.Errorf("ls /: %v %v", names, err)
	}
	d, _ = fs.Open("/targets", plan9.OREAD)
	dirs, _ = d.Dirreadall()
	d.Close()
	if len(dirs) != 2 || dirs[0].Name != "a" || dirs[0].Mode&plan9.DMDIR == 0 {
		t.Errorf("ls /targets: %v", dirs)
	}
	if got := readFile(t, fs, "/targets/b/status"); got != "name b\n" {
		t.Errorf("/targets/b/status %q", got)
	}
	if got := readFile(t, fs, "/jobs/1/status"); got != "state done\n" {
		t.Errorf("job status %q", got)
	}
	for _, bad := range []string{"/targets/c/status", "/jobs/2/status", "/jobs/01/status", "/nope", "/targets/a/nope"} {
		if _, err := fs.Open(bad, plan9.OREAD); err == nil {
			t.Errorf("open %s succeeded", bad)
		}
	}
	if _, err := fs.Open("/status", plan9.OWRITE); err == nil {
		t.Error("status opened for write")
	}
	st, err := fs.Stat("/ctl")
	if err != nil || st.Mode != 0666 || st.Uid != "glenda" {
		t.Errorf("stat /ctl: %v %v", st, err)
	}
	jc, err := fs.Open("/jobs/1/ctl", plan9.OWRITE)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jc.Write([]byte("cancel\n")); err != nil {
		t.Error(err)
	}
	jc.Close()
	// Truncation as a shell sends it through FUSE: accepted, no change.
	if err := fs.Wstat("/ctl", &plan9.Dir{Length: 0, Mode: ^plan9.Perm(0), Type: ^uint16(0), Dev: ^uint32(0),
		Qid: plan9.Qid{Path: ^uint64(0), Vers: ^uint32(0), Type: ^uint8(0)}, Atime: ^uint32(0), Mtime: ^uint32(0)}); err != nil {
		t.Errorf("wstat length 0: %v", err)
	}
}

// TestErrorText: errors reach the client as one line of at most 127
// bytes.
func TestErrorText(t *testing.T) {
	e := errText(io.ErrUnexpectedEOF)
	if e.Error() != "unexpected EOF" {
		t.Errorf("%q", e)
	}
	long := errText(rerror(strings.Repeat("x", 300) + "\nsecond"))
	if len(long.Error()) != 127 || strings.Contains(long.Error(), "\n") {
		t.Errorf("long error %q", long)
	}
}

// rawConn is a 9P connection driven by hand with plan9.Fcall.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	mu sync.Mutex
}

func (r *rawConn) send(f *plan9.Fcall) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := plan9.WriteFcall(r.nc, f); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawConn) recv() *plan9.Fcall {
	f, err := plan9.ReadFcall(r.nc)
	if err != nil {
		r.t.Fatal(err)
	}
	return f
}

func rawDial(t *testing.T, addr string) *rawConn {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	r := &rawConn{t: t, nc: nc}
	r.send(&plan9.Fcall{Type: plan9.Tversion, Tag: plan9.NOTAG, Msize: 65536, Version: "9P2000"})
	if f := r.recv(); f.Type != plan9.Rversion {
		t.Fatalf("version: %v", f)
	}
	r.send(&plan9.Fcall{Type: plan9.Tattach, Tag: 1, Fid: 0, Afid: plan9.NOFID, Uname: "glenda"})
	if f := r.recv(); f.Type != plan9.Rattach {
		t.Fatalf("attach: %v", f)
	}
	return r
}

// TestBlockedLogReads: maxBlockedReads reads of /log block on one
// connection while stat and read of other files still answer, and the
// reads past them fail at once; a flushed read gets Rerror then Rflush;
// events then answer the rest; a hang-up leaves no goroutines or memory
// behind.
func TestBlockedLogReads(t *testing.T) {
	f, addr := start(t)
	base := runtime.NumGoroutine()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heap := ms.HeapAlloc
	r := rawDial(t, addr)
	const n, extra = maxBlockedReads, 50
	for i := range n + extra {
		fid := uint32(100 + i)
		r.send(&plan9.Fcall{Type: plan9.Twalk, Tag: 2, Fid: 0, Newfid: fid, Wname: []string{"log"}})
		if x := r.recv(); x.Type != plan9.Rwalk {
			t.Fatalf("walk: %v", x)
		}
		r.send(&plan9.Fcall{Type: plan9.Topen, Tag: 2, Fid: fid, Mode: plan9.OREAD})
		if x := r.recv(); x.Type != plan9.Ropen {
			t.Fatalf("open: %v", x)
		}
	}
	for i := range n + extra {
		r.send(&plan9.Fcall{Type: plan9.Tread, Tag: uint16(10 + i), Fid: uint32(100 + i), Count: 8192})
	}
	// The reads past the bound fail; the others wait.
	failed := map[uint16]bool{}
	for range extra {
		x := r.recv()
		if x.Type != plan9.Rerror || x.Ename != "too many reads of /log waiting (256)" {
			t.Fatalf("read past the bound answered %v", x)
		}
		failed[x.Tag] = true
	}
	var blocked []uint16
	for i := range n + extra {
		if tag := uint16(10 + i); !failed[tag] {
			blocked = append(blocked, tag)
		}
	}
	// Other requests still answer.
	r.send(&plan9.Fcall{Type: plan9.Twalk, Tag: 5000, Fid: 0, Newfid: 9000, Wname: []string{"status"}})
	if x := r.recv(); x.Type != plan9.Rwalk || x.Tag != 5000 {
		t.Fatalf("walk with reads blocked: %v", x)
	}
	r.send(&plan9.Fcall{Type: plan9.Tstat, Tag: 5001, Fid: 9000})
	if x := r.recv(); x.Type != plan9.Rstat || x.Tag != 5001 {
		t.Fatalf("stat with reads blocked: %v", x)
	}
	r.send(&plan9.Fcall{Type: plan9.Topen, Tag: 5002, Fid: 9000, Mode: plan9.OREAD})
	r.recv()
	r.send(&plan9.Fcall{Type: plan9.Tread, Tag: 5003, Fid: 9000, Count: 100})
	if x := r.recv(); x.Type != plan9.Rread || string(x.Data) != "status line\n" {
		t.Fatalf("read with reads blocked: %v", x)
	}
	// Flush the first blocked read: Rerror for it, then Rflush.
	flushed := blocked[0]
	r.send(&plan9.Fcall{Type: plan9.Tflush, Tag: 5004, Oldtag: flushed})
	if x := r.recv(); x.Type != plan9.Rerror || x.Tag != flushed || x.Ename != "interrupted" {
		t.Fatalf("flushed read answered %v", x)
	}
	if x := r.recv(); x.Type != plan9.Rflush || x.Tag != 5004 {
		t.Fatalf("flush answered %v", x)
	}
	// An event answers every other read.
	f.addLog("event one\n")
	for range n - 1 {
		x := r.recv()
		if x.Type != plan9.Rread || string(x.Data) != "event one\n" || x.Tag == flushed || failed[x.Tag] {
			t.Fatalf("woken read: %v", x)
		}
	}
	// Block them again, then hang up: nothing stays behind.
	for _, tag := range blocked[1:] {
		r.send(&plan9.Fcall{Type: plan9.Tread, Tag: tag, Fid: uint32(100 + tag - 10), Offset: 10, Count: 8192})
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() < base+n-1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g < base+n-1 {
		t.Fatalf("only %d goroutines with %d reads blocked", g, n-1)
	}
	r.nc.Close()
	deadline = time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > base+2 {
		t.Errorf("%d goroutines after hang-up, %d before", g, base)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if ms.HeapAlloc > heap+1<<20 {
		t.Errorf("heap %d after hang-up, %d before", ms.HeapAlloc, heap)
	}
}

// TestCtlJobReadBack: a client that opens /ctl for reading and writing
// reads back, after its write, the jobs the write started; a write
// starting none leaves the configuration to read.
func TestCtlJobReadBack(t *testing.T) {
	_, addr := start(t)
	fs := mount(t, addr)
	read := func(f *client.Fid) string {
		b := make([]byte, 512)
		n, err := f.ReadAt(b, 0)
		if err != nil && err != io.EOF {
			t.Fatal(err)
		}
		return string(b[:n])
	}
	ctl, err := fs.Open("/ctl", plan9.ORDWR)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	if _, err := ctl.Write([]byte("target a\n")); err != nil {
		t.Fatal(err)
	}
	if got := read(ctl); got != "" { // the view taken at open
		t.Errorf("after a configuration write: %q", got)
	}
	if _, err := ctl.Write([]byte("job\n")); err != nil {
		t.Fatal(err)
	}
	if got := read(ctl); got != "job 7\n" {
		t.Errorf("after a job write: %q", got)
	}
	if got := readFile(t, fs, "/ctl"); got != "target a\n" {
		t.Errorf("/ctl %q", got)
	}
}

// TestStatusRenderedOnce: walking to a status file and opening it
// renders it once, at open; looking a node up does not (a target's
// status reads its source's arena directories).
func TestStatusRenderedOnce(t *testing.T) {
	f, addr := start(t)
	f.ExecJobs(context.Background(), "target a")
	fs := mount(t, addr)
	for _, name := range []string{"/targets/a/status", "/jobs/1/status"} {
		before := f.rendered(name)
		if got := readFile(t, fs, name); got == "" {
			t.Errorf("%s is empty", name)
		}
		if n := f.rendered(name) - before; n != 1 {
			t.Errorf("%s rendered %d times for one open", name, n)
		}
	}
}

// A read of /jobs/N/wait blocks until the job ends and then returns its
// status; a flushed one returns at once with "interrupted".
func TestWaitFile(t *testing.T) {
	f, addr := start(t)
	r := rawDial(t, addr)
	for i, fid := range []uint32{100, 101} {
		r.send(&plan9.Fcall{Type: plan9.Twalk, Tag: uint16(2 + i), Fid: 0, Newfid: fid, Wname: []string{"jobs", "1", "wait"}})
		if x := r.recv(); x.Type != plan9.Rwalk {
			t.Fatalf("walk: %v", x)
		}
		r.send(&plan9.Fcall{Type: plan9.Topen, Tag: 2, Fid: fid, Mode: plan9.OREAD})
		if x := r.recv(); x.Type != plan9.Ropen {
			t.Fatalf("open: %v", x)
		}
	}
	r.send(&plan9.Fcall{Type: plan9.Tread, Tag: 10, Fid: 100, Count: 8192})
	r.send(&plan9.Fcall{Type: plan9.Tread, Tag: 11, Fid: 101, Count: 8192})
	r.send(&plan9.Fcall{Type: plan9.Tflush, Tag: 12, Oldtag: 11})
	if x := r.recv(); x.Type != plan9.Rerror || x.Tag != 11 || x.Ename != "interrupted" {
		t.Fatalf("flushed wait answered %v", x)
	}
	if x := r.recv(); x.Type != plan9.Rflush {
		t.Fatalf("flush answered %v", x)
	}
	f.endJob()
	x := r.recv()
	if x.Type != plan9.Rread || x.Tag != 10 || !strings.HasPrefix(string(x.Data), "state ") {
		t.Fatalf("wait answered %v", x)
	}
	// Read on: the rest, then end of file.
	r.send(&plan9.Fcall{Type: plan9.Tread, Tag: 13, Fid: 100, Offset: uint64(len(x.Data)), Count: 8192})
	if x := r.recv(); x.Type != plan9.Rread || len(x.Data) != 0 {
		t.Fatalf("read past the status: %v", x)
	}
}
