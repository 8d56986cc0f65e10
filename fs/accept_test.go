package fs

import (
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

	"9fans.net/go/plan9/client"
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
	b.lines = append(b.lines, fmt.Sprintf(format, a...))
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

// serveOn serves s on l until the test ends; Serve must then return nil.
func serveOn(t *testing.T, s *Server, l net.Listener) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
}

// TestServeSurvivesEMFILE: temporary Accept errors (EMFILE, ENFILE)
// are retried and logged once; the listener then serves.
func TestServeSurvivesEMFILE(t *testing.T) {
	var log logBuf
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &flakyListener{Listener: l}
	fl.fails.Store(5)
	serveOn(t, &Server{Engine: newFake(), Logf: log.logf}, fl)
	// client.Dial exchanges versions: a lost accept loop hangs it.
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	done := make(chan error, 1)
	go func() {
		c, err := client.NewConn(nc)
		if err == nil {
			_, err = c.Attach(nil, "glenda", "")
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no attach: the accept loop is gone")
	}
	if n := log.count("too many open files"); n != 1 {
		t.Errorf("logged %d times, want once: %q", n, log.lines)
	}
}

// TestServeMaxConns: past MaxConns a connection is closed at once; when
// one ends another is taken.
func TestServeMaxConns(t *testing.T) {
	var log logBuf
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	serveOn(t, &Server{Engine: newFake(), Logf: log.logf, MaxConns: 2}, l)
	c1, err := client.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	fs1, err := c1.Attach(nil, "glenda", "")
	if err != nil {
		t.Fatal(err)
	}
	mount(t, addr)
	for range 3 {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = io.Copy(io.Discard, nc)
		nc.Close()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("third connection not closed")
		}
	}
	if n := log.count("refusing"); n != 1 {
		t.Errorf("refusals logged %d times, want once: %q", n, log.lines)
	}
	if got := readFile(t, fs1, "/ctl"); got != "" {
		t.Errorf("/ctl %q", got)
	}
	c1.Close()
	// The first connection's slot frees once the server sees it go.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := client.Dial("tcp", addr) // refused: reset or EOF
		if err == nil {
			_, err = c.Attach(nil, "glenda", "")
			c.Close()
			if err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection taken after one ended: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
