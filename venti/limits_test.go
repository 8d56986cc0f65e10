package venti

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tempErr is an accept error like EMFILE: temporary.
type tempErr struct{}

func (tempErr) Error() string   { return "accept4: too many open files" }
func (tempErr) Temporary() bool { return true }
func (tempErr) Timeout() bool   { return false }

// flakyListener fails its first fails Accepts with tempErr.
type flakyListener struct {
	net.Listener
	fails atomic.Int32
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: tempErr{}}
	}
	return l.Listener.Accept()
}

// logBuf collects Logf lines.
type logBuf struct {
	mu    sync.Mutex
	lines []string
}

func (b *logBuf) logf(format string, a ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, strings.TrimSpace(fmt.Sprintf(format, a...)))
}

func (b *logBuf) count(sub string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, l := range b.lines {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

// listenServer serves srv on l (wrapped by wrap, if set) and returns
// the address.
func listenServer(t *testing.T, srv *Server, wrap func(net.Listener) net.Listener) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if wrap != nil {
		l = wrap(l)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return addr
}

// TestServeSurvivesEMFILE: temporary Accept errors (EMFILE, ENFILE) are
// retried, logged once, and the server then serves.
func TestServeSurvivesEMFILE(t *testing.T) {
	var log logBuf
	fl := &flakyListener{}
	fl.fails.Store(5)
	addr := listenServer(t, &Server{Store: newTestStore(), Logf: log.logf}, func(l net.Listener) net.Listener {
		fl.Listener = l
		return fl
	})
	c := rawDial(t, addr, "venti-04:02-libventi\n")
	c.hello()
	c.send(&Fcall{Type: Tping, Tag: 1})
	if r := c.recv(); r.Type != Rping {
		t.Fatalf("got %v", r)
	}
	if n := log.count("too many open files"); n != 1 {
		t.Errorf("logged %d times, want once: %q", n, log.lines)
	}
}

// waitClosed reads nc until the server closes it; a read timeout (the
// server never closed it) fails the test.
func waitClosed(t *testing.T, nc net.Conn, what string) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, nc)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: connection not closed", what)
	}
}

// TestServerMaxConns: past MaxConns a connection is closed at once;
// when one ends, another is taken.
func TestServerMaxConns(t *testing.T) {
	var log logBuf
	addr := listenServer(t, &Server{Store: newTestStore(), MaxConns: 2, Logf: log.logf}, nil)
	c1 := rawDial(t, addr, "venti-04:02-libventi\n")
	c1.hello()
	c2 := rawDial(t, addr, "venti-04:02-libventi\n")
	c2.hello()
	for range 3 {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		waitClosed(t, nc, "third connection")
		nc.Close()
	}
	if n := log.count("refusing"); n != 1 {
		t.Errorf("refusals logged %d times, want once: %q", n, log.lines)
	}
	c1.nc.Close()
	// c1's slot frees once the server sees the hang-up.
	deadline := time.Now().Add(10 * time.Second)
	for {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(nc, "venti-04:02-libventi\n")
		line := make([]byte, 1)
		_, err = nc.Read(line)
		nc.Close()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no connection taken after one ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c2.send(&Fcall{Type: Tping, Tag: 1})
	if r := c2.recv(); r.Type != Rping {
		t.Fatalf("got %v", r)
	}
}

// TestServerHelloTimeout: a connection that does not finish the
// handshake in HelloTimeout is closed.
func TestServerHelloTimeout(t *testing.T) {
	var log logBuf
	addr := listenServer(t, &Server{Store: newTestStore(), HelloTimeout: 20 * time.Millisecond, Logf: log.logf}, nil)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	waitClosed(t, nc, "silent connection")

	// The version line, but no Thello.
	nc2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	io.WriteString(nc2, "venti-04:02-libventi\n")
	waitClosed(t, nc2, "connection without hello")

	// A handshake in time is not cut afterwards.
	c := rawDial(t, addr, "venti-04:02-libventi\n")
	c.hello()
	time.Sleep(100 * time.Millisecond)
	c.send(&Fcall{Type: Tping, Tag: 1})
	if r := c.recv(); r.Type != Rping {
		t.Fatalf("got %v", r)
	}
	deadline := time.Now().Add(10 * time.Second)
	for log.count("hello") < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := log.count("no hello in 20ms"); n != 2 {
		t.Errorf("logged %q", log.lines)
	}
}

// TestServerIdleTimeout: a connection on which nothing moves for
// IdleTimeout, with no request being served, is closed; one waiting for
// a slow request is not.
func TestServerIdleTimeout(t *testing.T) {
	st := &blockingStore{testStore: *newTestStore(), started: make(chan struct{}, 1), release: make(chan struct{})}
	addr := listenServer(t, &Server{Store: st, IdleTimeout: 20 * time.Millisecond}, nil)

	idle := rawDial(t, addr, "venti-04:02-libventi\n")
	idle.hello()
	waitClosed(t, idle.nc, "idle connection")

	busy := rawDial(t, addr, "venti-04:02-libventi\n")
	busy.hello()
	busy.send(&Fcall{Type: Tread, Tag: 1, Score: sc1, Count: 100})
	<-st.started
	time.Sleep(200 * time.Millisecond) // ten idle periods
	close(st.release)
	if r := busy.recv(); r.Type != Rerror || !strings.HasPrefix(r.Error, "no block") {
		t.Fatalf("slow read: got %v", r)
	}
	waitClosed(t, busy.nc, "idle connection after a slow read")
}

// countStore counts reads of one 56 KiB block.
type countStore struct {
	testStore
	reads atomic.Int64
}

func (c *countStore) Read(ctx context.Context, s Score, t Type, max int) ([]byte, error) {
	c.reads.Add(1)
	return c.testStore.Read(ctx, s, t, max)
}

// TestServerBoundsUnreadReplies: a client that sends Treads and never
// reads the replies gets only a bounded amount of work done; the server
// stops reading its requests, still serves others, and lets everything
// go when the client hangs up.
func TestServerBoundsUnreadReplies(t *testing.T) {
	st := &countStore{testStore: *newTestStore()}
	block := bytes.Repeat([]byte{'x'}, MaxLumpSize)
	score, _ := st.Write(context.Background(), DataType, block)
	srv := &Server{Store: st}

	// A pipe has no buffering: once the server stops reading, the
	// client's writes block.
	cli, sc := net.Pipe()
	defer cli.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.ServeConn(ctx, sc) }()
	c := &rawConn{t: t, nc: cli, br: bufio.NewReader(cli), version: Version04}
	cli.SetDeadline(time.Now().Add(10 * time.Second))
	wrote := make(chan struct{})
	go func() { io.WriteString(cli, "venti-04:02-libventi\n"); close(wrote) }() // both sides write first
	if _, err := c.br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	<-wrote
	c.send(&Fcall{Type: Thello, Version: c.version, Uid: "anonymous"})
	if r, err := ReadFcall(c.br, c.version); err != nil || r.Type != Rhello {
		t.Fatalf("hello: %v %v; ServeConn: %v", r, err, <-served)
	}

	// 5000 Treads, far more than the server's read buffer holds: the
	// server must stop taking them, and do only a bounded part of them.
	cli.SetWriteDeadline(time.Now().Add(2 * time.Second))
	var frames []byte
	for i := range 5000 {
		frames, _ = appendFrame(frames, Version04, &Fcall{Type: Tread, Tag: uint8(i), Score: score, BlockType: DataType, Count: MaxLumpSize})
	}
	n, err := cli.Write(frames)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("server took all %d bytes of 5000 Treads it cannot answer (err %v)", n, err)
	}
	if r := st.reads.Load(); r > 16 {
		t.Errorf("server read %d blocks for a client that reads nothing", r)
	}

	// Others are served meanwhile.
	addr := startServer(t, srv)
	o := rawDial(t, addr, "venti-04:02-libventi\n")
	o.hello()
	o.send(&Fcall{Type: Tread, Tag: 1, Score: score, BlockType: DataType, Count: MaxLumpSize})
	if r := o.recv(); r.Type != Rread || len(r.Data) != MaxLumpSize {
		t.Fatalf("other client: got %v", r)
	}

	// Hang-up ends the connection.
	cli.Close()
	select {
	case <-served:
	case <-time.After(10 * time.Second):
		t.Fatal("ServeConn did not return after hang-up")
	}
}
