package fs

import (
	"context"
	"net"
	"testing"

	"9fans.net/go/plan9"
)

// TestReadOnly: a connection MayWrite refuses reads every file and
// writes none, and the engine sees no write.
func TestReadOnly(t *testing.T) {
	f := newFake()
	ro, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Engine: f, MayWrite: func(c net.Conn) bool { return c.LocalAddr().String() != ro.Addr().String() }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { s.Serve(ctx, ro); done <- struct{}{} }()
	go func() { s.Serve(ctx, rw); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })

	fs := mount(t, ro.Addr().String())
	for _, name := range []string{"/ctl", "/wrcmd", "/jobs/1/ctl"} {
		for _, mode := range []uint8{plan9.OWRITE, plan9.ORDWR, plan9.OREAD | plan9.OTRUNC} {
			if f, err := fs.Open(name, mode); err == nil || err.Error() != "read-only connection" {
				t.Errorf("open %s mode %#x: %v", name, mode, err)
				if err == nil {
					f.Close()
				}
			}
		}
		d, err := fs.Stat(name)
		if err != nil || d.Mode != 0444 {
			t.Errorf("stat %s: %v %v", name, d, err)
		}
		if err := fs.Wstat(name, &plan9.Dir{Length: 0, Mode: ^plan9.Perm(0), Type: ^uint16(0), Dev: ^uint32(0),
			Qid: plan9.Qid{Path: ^uint64(0), Vers: ^uint32(0), Type: ^uint8(0)}, Atime: ^uint32(0), Mtime: ^uint32(0)}); err == nil {
			t.Errorf("wstat %s on a read-only connection", name)
		}
	}
	if got := readFile(t, fs, "/status"); got != "status line\n" {
		t.Errorf("/status %q", got)
	}
	if got := readFile(t, fs, "/ctl"); got != "" {
		t.Errorf("/ctl %q", got)
	}

	// The same server writes for a connection MayWrite allows.
	fw := mount(t, rw.Addr().String())
	c, err := fw.Open("/ctl", plan9.OWRITE)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("target a\n")); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got := readFile(t, fs, "/ctl"); got != "target a\n" {
		t.Errorf("/ctl after a write elsewhere %q", got)
	}
}
