package venti

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// rawConn is a hand-driven client connection for protocol tests.
type rawConn struct {
	t       *testing.T
	nc      net.Conn
	br      *bufio.Reader
	version string
}

func startServer(t *testing.T, srv *Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, l); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return l.Addr().String()
}

// rawDial connects, exchanges version lines (ours given by line) and
// returns before any message.
func rawDial(t *testing.T, addr, line string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	c := &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
	io.WriteString(nc, line)
	if _, err := c.br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	c.version = Version04
	if !strings.Contains(line, "04") {
		c.version = Version02
	}
	return c
}

func (c *rawConn) send(f *Fcall) {
	c.t.Helper()
	if err := WriteFcall(c.nc, c.version, f); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawConn) sendBody(body []byte) {
	c.t.Helper()
	b, _ := appendFrame(nil, c.version, &Fcall{Type: Rread, Data: body[2:]})
	copy(b[frameSize(c.version):], body[:2])
	c.nc.Write(b)
}

func (c *rawConn) recv() *Fcall {
	c.t.Helper()
	f, err := ReadFcall(c.br, c.version)
	if err != nil {
		c.t.Fatalf("recv: %v", err)
	}
	return f
}

func (c *rawConn) hello() {
	c.t.Helper()
	c.send(&Fcall{Type: Thello, Version: c.version, Uid: "anonymous"})
	if r := c.recv(); r.Type != Rhello || r.Sid != "anonymous" {
		c.t.Fatalf("hello: got %v", r)
	}
}

func TestServerAnswers(t *testing.T) {
	addr := startServer(t, &Server{Store: newTestStore()})
	c := rawDial(t, addr, "venti-04:02-libventi\n")
	c.hello()
	big := bytes.Repeat([]byte{7}, MaxLumpSize+1)
	for _, tt := range []struct {
		name string
		body []byte // sent as is
		f    *Fcall // or this
		want string
	}{
		{name: "ping", f: &Fcall{Type: Tping, Tag: 1}, want: "Rping tag 1"},
		{name: "read invalid type", body: unhex(t, "0c 02"+sc1hex+"0a 00 ffff"), want: `Rerror tag 2 error "bad packet: invalid lump type 10"`},
		{name: "write invalid type", body: unhex(t, "0e 03 00 000000 61"), want: `Rerror tag 3 error "bad packet: invalid lump type 0"`},
		{name: "unknown type", body: unhex(t, "63 04"), want: `Rerror tag 4 error "bad packet: unknown message type 99"`},
		{name: "trailing bytes", body: unhex(t, "10 05 00"), want: `Rerror tag 5 error "bad packet"`},
		{name: "hello again", f: &Fcall{Type: Thello, Tag: 6, Version: "04"}, want: `Rerror tag 6 error "unknown request"`},
		{name: "reply type", f: &Fcall{Type: Rsync, Tag: 7}, want: `Rerror tag 7 error "unknown request"`},
		{name: "lump too large", f: &Fcall{Type: Twrite, Tag: 8, Data: big}, want: `Rerror tag 8 error "lump too large"`},
		{name: "missing", f: &Fcall{Type: Tread, Tag: 9, Score: sc1, BlockType: DirType + 1, Count: 10},
			want: `Rerror tag 9 error "no block with score ` + sc1hex + `/9 exists"`},
		{name: "zero score", f: &Fcall{Type: Tread, Tag: 10, Score: ZeroScore, BlockType: RootType}, want: "Rread tag 10 count 0"},
		{name: "empty write", f: &Fcall{Type: Twrite, Tag: 11}, want: "Rwrite tag 11 score " + ZeroScore.String()},
		{name: "write", f: &Fcall{Type: Twrite, Tag: 12, BlockType: DataType + 1, Data: []byte("abc")},
			want: "Rwrite tag 12 score " + Sum([]byte("abc")).String()},
		{name: "read 4-byte count", body: unhex(t, "0c 0d"+Sum([]byte("abc")).String()+"03 00 00010000"), want: "Rread tag 13 count 3"},
		{name: "read too small", f: &Fcall{Type: Tread, Tag: 14, Score: Sum([]byte("abc")), BlockType: DirType + 1, Count: 2},
			want: `Rerror tag 14 error "read too small: asked for 2 need at least 3"`},
		{name: "sync", f: &Fcall{Type: Tsync, Tag: 15}, want: "Rsync tag 15"},
	} {
		if tt.f != nil {
			c.send(tt.f)
		} else {
			c.sendBody(tt.body)
		}
		if got := c.recv().String(); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
	}
	// A frame over MaxMessageSize is skipped and refused; the
	// connection stays usable.
	huge := append([]byte{0, 2, 0, 0, Twrite, 16, 13, 0, 0, 0}, make([]byte, 1<<17-6)...)
	c.nc.Write(huge)
	if got := c.recv().String(); got != `Rerror tag 16 error "lump too large"` {
		t.Errorf("huge write: got %s", got)
	}
	c.send(&Fcall{Type: Tping, Tag: 17})
	if got := c.recv().String(); got != "Rping tag 17" {
		t.Errorf("after huge write: got %s", got)
	}
	// Tgoodbye closes the connection.
	c.send(&Fcall{Type: Tgoodbye})
	if _, err := c.br.ReadByte(); err != io.EOF {
		t.Errorf("after Tgoodbye: %v, want EOF", err)
	}
}

func TestServerVersion02(t *testing.T) {
	addr := startServer(t, &Server{Store: newTestStore()})
	c := rawDial(t, addr, "venti-02-libventi\n")
	c.hello()
	c.send(&Fcall{Type: Twrite, Tag: 1, BlockType: DataType, Data: []byte("02")})
	if got := c.recv(); got.Type != Rwrite || got.Score != Sum([]byte("02")) {
		t.Errorf("02 write: %v", got)
	}
}

func TestServerBadHello(t *testing.T) {
	addr := startServer(t, &Server{Store: newTestStore()})
	for _, tt := range []struct {
		f    *Fcall
		want string
	}{
		{&Fcall{Type: Tping}, `Rerror tag 0 error "bad packet type 2; want Thello 4"`},
		{&Fcall{Type: Thello, Tag: 1, Version: "04"}, `Rerror tag 1 error "bad tag in hello"`},
		{&Fcall{Type: Thello, Version: "02"}, `Rerror tag 0 error "bad version in hello"`},
	} {
		c := rawDial(t, addr, "venti-04:02-libventi\n")
		c.send(tt.f)
		if got := c.recv().String(); got != tt.want {
			t.Errorf("%v: got %s, want %s", tt.f, got, tt.want)
		}
		if _, err := c.br.ReadByte(); err != io.EOF {
			t.Errorf("%v: connection not closed: %v", tt.f, err)
		}
	}
	// A peer that speaks no version we know is hung up on.
	c := rawDial(t, addr, "venti-05-future\n")
	if _, err := c.br.ReadByte(); err != io.EOF {
		t.Errorf("version 05: %v, want EOF", err)
	}
}

func TestServerReadOnly(t *testing.T) {
	addr := startServer(t, &Server{Store: newTestStore(), ReadOnly: true})
	c := rawDial(t, addr, "venti-04:02-libventi\n")
	c.hello()
	c.send(&Fcall{Type: Twrite, Tag: 1, Data: []byte("x")})
	if got := c.recv().String(); got != `Rerror tag 1 error "read only"` {
		t.Errorf("got %s", got)
	}
}

// blockingStore holds every read until release is closed.
type blockingStore struct {
	testStore
	started chan struct{}
	release chan struct{}
}

func (b *blockingStore) Read(ctx context.Context, s Score, t Type, max int) ([]byte, error) {
	b.started <- struct{}{}
	select {
	case <-b.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return b.testStore.Read(ctx, s, t, max)
}

// TestServerConcurrent checks requests on one connection are served
// concurrently and answered by tag: a ping overtakes blocked reads, and
// a sync waits for the writes received before it.
func TestServerConcurrent(t *testing.T) {
	st := &blockingStore{testStore: *newTestStore(), started: make(chan struct{}, 10), release: make(chan struct{})}
	addr := startServer(t, &Server{Store: st})
	c := rawDial(t, addr, "venti-04:02-libventi\n")
	c.hello()
	for tag := uint8(1); tag <= 3; tag++ {
		c.send(&Fcall{Type: Tread, Tag: tag, Score: sc1, Count: 100})
	}
	for range 3 {
		<-st.started
	}
	c.send(&Fcall{Type: Tping, Tag: 9})
	if got := c.recv().String(); got != "Rping tag 9" {
		t.Fatalf("ping behind blocked reads: got %s", got)
	}
	close(st.release)
	tags := map[uint8]bool{}
	for range 3 {
		r := c.recv()
		if r.Type != Rerror || !strings.HasPrefix(r.Error, "no block") {
			t.Errorf("got %v", r)
		}
		tags[r.Tag] = true
	}
	if len(tags) != 3 {
		t.Errorf("tags answered: %v", tags)
	}
}

// TestServerShutdown: cancelling Serve's ctx ends blocked requests and
// closes connections.
func TestServerShutdown(t *testing.T) {
	st := &blockingStore{testStore: *newTestStore(), started: make(chan struct{}, 1), release: make(chan struct{})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- (&Server{Store: st}).Serve(ctx, l) }()
	c := rawDial(t, l.Addr().String(), "venti-04:02-libventi\n")
	c.hello()
	c.send(&Fcall{Type: Tread, Tag: 1, Score: sc1, Count: 100})
	<-st.started
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	if _, err := io.ReadAll(c.br); err != nil && !errors.Is(err, net.ErrClosed) {
		// Any end of stream will do; a timeout would mean a hang.
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("connection not closed: %v", err)
		}
	}
}
