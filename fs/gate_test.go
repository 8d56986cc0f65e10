package fs

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"9fans.net/go/plan9"
)

// frame makes a message of type typ and tag from body.
func frame(typ uint8, tag uint16, body ...byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(7+len(body)))
	b = append(b, typ)
	b = binary.LittleEndian.AppendUint16(b, tag)
	return append(b, body...)
}

// walkFrame makes a Twalk of fid 0 to newfid 1 along names, however many.
func walkFrame(tag uint16, names ...string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0)
	b = binary.LittleEndian.AppendUint32(b, 1)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(names)))
	for _, n := range names {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(n)))
		b = append(b, n...)
	}
	return frame(plan9.Twalk, tag, b...)
}

// TestBadMessages: a message srv9p cannot take gets an Rerror naming
// what is wrong, and the connection goes on; only a size that cannot
// be trusted ends it.
func TestBadMessages(t *testing.T) {
	_, addr := start(t)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	r := &rawConn{t: t, nc: nc}
	raw := func(b []byte) {
		if _, err := nc.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(what string, tag uint16, ename string) {
		t.Helper()
		x := r.recv()
		if x.Tag != tag || x.Type != plan9.Rerror || x.Ename != ename {
			t.Fatalf("%s answered %v, want Rerror tag %d %q", what, x, tag, ename)
		}
	}
	for _, m := range []uint32{0, 100} {
		r.send(&plan9.Fcall{Type: plan9.Tversion, Tag: plan9.NOTAG, Msize: m, Version: "9P2000"})
		expect("Tversion msize 0", plan9.NOTAG, "msize too small")
	}
	r.send(&plan9.Fcall{Type: plan9.Tversion, Tag: plan9.NOTAG, Msize: 8192, Version: "9P2000"})
	if x := r.recv(); x.Type != plan9.Rversion || x.Msize != 8192 {
		t.Fatalf("version: %v", x)
	}
	r.send(&plan9.Fcall{Type: plan9.Tattach, Tag: 1, Fid: 0, Afid: plan9.NOFID, Uname: "glenda"})
	if x := r.recv(); x.Type != plan9.Rattach {
		t.Fatalf("attach: %v", x)
	}

	raw(frame(99, 2))
	expect("type 99", 2, "unknown message type 99")
	raw(frame(plan9.Rread, 3, 0, 0, 0, 0))
	expect("an Rread", 3, "unknown message type 117")
	raw(walkFrame(4, strings.Split(strings.Repeat("a/", 17)[:33], "/")...))
	expect("a walk of 17 names", 4, "walk of more than 16 names")
	raw(frame(plan9.Tstat, 5, 0, 0))
	expect("a short Tstat", 5, "malformed Tstat")
	raw(frame(plan9.Tclunk, 6, 0, 0, 0, 0, 0))
	expect("a long Tclunk", 6, "malformed Tclunk")
	raw(walkFrame(7, "jobs/1"))
	expect("a walk to a name with a slash", 7, "file does not exist")
	raw(walkFrame(8, "."))
	expect("a walk to .", 8, "file does not exist")
	r.send(&plan9.Fcall{Type: plan9.Tread, Tag: 9, Fid: 0, Count: 100})
	expect("a read of an unopened fid", 9, "not open for read")

	// A stat bigger than msize gets an error, not silence.
	r.send(&plan9.Fcall{Type: plan9.Tattach, Tag: 10, Fid: 2, Afid: plan9.NOFID, Uname: strings.Repeat("u", 3000)})
	if x := r.recv(); x.Type != plan9.Rattach {
		t.Fatalf("attach: %v", x)
	}
	r.send(&plan9.Fcall{Type: plan9.Tstat, Tag: 11, Fid: 2})
	expect("a stat too big", 11, "stat too big for msize")

	// A tag in flight is not taken again.
	r.send(&plan9.Fcall{Type: plan9.Twalk, Tag: 12, Fid: 0, Newfid: 3, Wname: []string{"log"}})
	r.recv()
	r.send(&plan9.Fcall{Type: plan9.Topen, Tag: 12, Fid: 3, Mode: plan9.OREAD})
	r.recv()
	r.send(&plan9.Fcall{Type: plan9.Tread, Tag: 13, Fid: 3, Count: 100})
	r.send(&plan9.Fcall{Type: plan9.Tstat, Tag: 13, Fid: 0})
	expect("a duplicate tag", 13, "duplicate tag")
	r.send(&plan9.Fcall{Type: plan9.Tflush, Tag: 14, Oldtag: 13})
	expect("the flushed read", 13, "interrupted")
	if x := r.recv(); x.Type != plan9.Rflush {
		t.Fatalf("flush: %v", x)
	}

	// Still serving.
	r.send(&plan9.Fcall{Type: plan9.Tstat, Tag: 15, Fid: 0})
	if x := r.recv(); x.Type != plan9.Rstat || x.Tag != 15 {
		t.Fatalf("stat after bad messages: %v", x)
	}

	// A message longer than msize hangs up.
	r.send(&plan9.Fcall{Type: plan9.Twrite, Tag: 16, Fid: 0, Data: make([]byte, 8192)})
	if x, err := plan9.ReadFcall(nc); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("message over msize: %v %v", x, err)
	}
}

// TestUnreadReplies: a client that sends without reading the replies
// has at most maxInFlight requests taken; once it reads, every one is
// answered and the connection goes on.
func TestUnreadReplies(t *testing.T) {
	s := &Server{Engine: newFake()}
	cli, srv := net.Pipe()
	done := make(chan struct{})
	go func() { s.ServeConn(context.Background(), srv); close(done) }()
	defer func() { cli.Close(); <-done }()
	cli.SetDeadline(time.Now().Add(20 * time.Second))
	r := &rawConn{t: t, nc: cli}
	r.send(&plan9.Fcall{Type: plan9.Tversion, Tag: plan9.NOTAG, Msize: 8192, Version: "9P2000"})
	r.recv()
	r.send(&plan9.Fcall{Type: plan9.Tattach, Tag: 1, Fid: 0, Afid: plan9.NOFID, Uname: "glenda"})
	r.recv()

	// net.Pipe has no buffer: a write returns once the server has read it.
	cli.SetWriteDeadline(time.Now().Add(2 * time.Second))
	sent := 0
	for ; sent < 10*maxInFlight; sent++ {
		b, _ := (&plan9.Fcall{Type: plan9.Tstat, Tag: uint16(2 + sent), Fid: 0}).Bytes()
		if n, err := cli.Write(b); err != nil {
			if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("write: %d %v", n, err)
			}
			break
		}
	}
	// Past the bound: the reply being written, whose request is no
	// longer in flight, and the request read and waiting for a slot.
	if sent > maxInFlight+2 {
		t.Fatalf("server took %d requests without a reply read, bound %d", sent, maxInFlight)
	}
	cli.SetDeadline(time.Now().Add(20 * time.Second))
	for range sent {
		if x := r.recv(); x.Type != plan9.Rstat {
			t.Fatalf("stat: %v", x)
		}
	}
	r.send(&plan9.Fcall{Type: plan9.Tstat, Tag: 1, Fid: 0})
	if x := r.recv(); x.Type != plan9.Rstat {
		t.Fatalf("stat after: %v", x)
	}
}
