package venti

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeServer accepts one connection, does the handshake and hands each
// request to handle, which may answer it through reply.
type fakeServer struct {
	addr string
	nc   chan net.Conn
}

func newFakeServer(t *testing.T, handle func(f *Fcall, reply func(*Fcall))) *fakeServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeServer{addr: "tcp!127.0.0.1!" + l.Addr().String()[strings.LastIndex(l.Addr().String(), ":")+1:], nc: make(chan net.Conn, 1)}
	done := make(chan struct{})
	t.Cleanup(func() { l.Close(); <-done })
	go func() {
		defer close(done)
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		fs.nc <- nc
		io.WriteString(nc, "venti-04:02-fake\n")
		br := bufio.NewReader(nc)
		if _, err := br.ReadString('\n'); err != nil {
			return
		}
		if _, err := ReadFcall(br, Version04); err != nil {
			return
		}
		var mu sync.Mutex
		reply := func(f *Fcall) {
			mu.Lock()
			defer mu.Unlock()
			WriteFcall(nc, Version04, f)
		}
		reply(&Fcall{Type: Rhello, Sid: "fake"})
		for {
			f, err := ReadFcall(br, Version04)
			if err != nil {
				return
			}
			handle(f, reply)
		}
	}()
	return fs
}

func TestClientCancel(t *testing.T) {
	got := make(chan *Fcall, 10)
	fs := newFakeServer(t, func(f *Fcall, reply func(*Fcall)) { got <- f })
	c, err := Dial(context.Background(), fs.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = c.Read(ctx, sc1, DataType, 10)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read: %v, want deadline exceeded", err)
	}
	// The abandoned tag 0 stays reserved: the next call uses tag 1.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	c.Sync(ctx2)
	if f := <-got; f.Tag != 0 {
		t.Errorf("first tag %d", f.Tag)
	}
	if f := <-got; f.Tag != 1 || f.Type != Tsync {
		t.Errorf("second request %v, want Tsync tag 1", f)
	}
}

func TestClientBrokenConnection(t *testing.T) {
	var mu sync.Mutex
	n := 0
	var fs *fakeServer
	fs = newFakeServer(t, func(f *Fcall, reply func(*Fcall)) {
		mu.Lock()
		n++
		if n == 5 {
			(<-fs.nc).Close() // hang up with 5 requests pending
		}
		mu.Unlock()
	})
	c, err := Dial(context.Background(), fs.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 5 {
		wg.Go(func() {
			_, err := c.Read(context.Background(), sc1, DataType, 10)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err == nil || !errors.Is(err, io.EOF) {
			t.Errorf("pending read: %v, want EOF cause", err)
		}
	}
	if _, err := c.Read(context.Background(), sc1, DataType, 10); err == nil || !errors.Is(err, io.EOF) {
		t.Errorf("read after break: %v", err)
	}
}

// TestClientTags: 300 callers at once never have more than 256 requests
// outstanding and all complete.
func TestClientTags(t *testing.T) {
	var mu sync.Mutex
	held := []*Fcall{}
	outstanding := map[uint8]bool{}
	maxOut := 0
	fs := newFakeServer(t, func(f *Fcall, reply func(*Fcall)) {
		mu.Lock()
		defer mu.Unlock()
		if outstanding[f.Tag] {
			t.Errorf("tag %d reused while outstanding", f.Tag)
		}
		outstanding[f.Tag] = true
		maxOut = max(maxOut, len(outstanding))
		held = append(held, f)
		if len(held) == 256 {
			for _, h := range held {
				delete(outstanding, h.Tag)
				reply(&Fcall{Type: Rsync, Tag: h.Tag})
			}
			held = held[:0]
		} else if len(held) < 256 && maxOut == 256 {
			// After the first batch, answer at once.
			delete(outstanding, f.Tag)
			held = held[:0]
			reply(&Fcall{Type: Rsync, Tag: f.Tag})
		}
	})
	c, err := Dial(context.Background(), fs.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var wg sync.WaitGroup
	for range 300 {
		wg.Go(func() {
			if err := c.Sync(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if maxOut != 256 {
		t.Errorf("at most %d outstanding, want 256", maxOut)
	}
}

func TestClientChecks(t *testing.T) {
	fs := newFakeServer(t, func(f *Fcall, reply func(*Fcall)) {
		switch f.Type {
		case Tread:
			reply(&Fcall{Type: Rread, Tag: f.Tag, Data: []byte("not the block")})
		case Twrite:
			reply(&Fcall{Type: Rwrite, Tag: f.Tag, Score: sc1})
		case Tping:
			reply(&Fcall{Type: Rerror, Tag: f.Tag, Error: "unknown request"})
		case Tsync:
			reply(&Fcall{Type: Rping, Tag: f.Tag})
		}
	})
	c, err := Dial(context.Background(), fs.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if _, err := c.Read(ctx, sc1, DataType, 100); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "read asked for "+sc1hex) {
		t.Errorf("read of wrong data: %v", err)
	}
	if _, err := c.Read(ctx, sc1, DataType, 5); !errors.Is(err, ErrCorrupt) {
		t.Errorf("read of too much data: %v", err)
	}
	if _, err := c.Write(ctx, DataType, []byte("x")); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "sha1 hash mismatch") {
		t.Errorf("write with wrong score back: %v", err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Errorf("plan9port-style ping: %v", err)
	}
	if err := c.Sync(ctx); err == nil || err.Error() != "type mismatch: sent T8 got R1" {
		t.Errorf("sync answered by Rping: %v", err)
	}
	if _, err := c.Read(ctx, sc1, MaxType, 5); err == nil {
		t.Error("read of an invalid type was sent")
	}
}

func TestDialErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Dial(ctx, "il!x!1"); err == nil || err.Error() != `dial venti: bad address "il!x!1"` {
		t.Errorf("bad address: %v", err)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	if _, err := Dial(ctx, addr); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("closed port: %v", err)
	}
	t.Setenv("venti", "")
	if _, err := Dial(ctx, ""); err == nil {
		t.Error("empty address with $venti unset succeeded")
	}
	// A server that never answers the version: the ctx ends the wait.
	l, _ = net.Listen("tcp", "127.0.0.1:0")
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			defer c.Close()
			io.Copy(io.Discard, c)
		}
	}()
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := Dial(tctx, l.Addr().String()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("silent server: %v", err)
	}
}
