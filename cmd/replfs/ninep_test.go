//go:build !plan9

package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"9fans.net/go/plan9"
	"9fans.net/go/plan9/srv9p"
)

// writeServer serves a file tree of one file, ctl, and records each
// write to it; its msize carries 8192 bytes of data.
func writeServer(t *testing.T) (addr string, writes func() []string) {
	t.Helper()
	var mu sync.Mutex
	var got []string
	srv := &srv9p.Server{
		Msize: 8192 + plan9.IOHDRSZ,
		Attach: func(ctx context.Context, fid, afid *srv9p.Fid, user, aname string) (plan9.Qid, error) {
			return plan9.Qid{Type: plan9.QTDIR}, nil
		},
		Walk: func(ctx context.Context, fid, newfid *srv9p.Fid, names []string) ([]plan9.Qid, error) {
			return srv9p.Walk(fid, newfid, names, nil, func(f *srv9p.Fid, elem string) (plan9.Qid, error) {
				if elem != "ctl" {
					return plan9.Qid{}, fmt.Errorf("file does not exist")
				}
				return plan9.Qid{Path: 1}, nil
			})
		},
		Open: func(ctx context.Context, fid *srv9p.Fid, mode uint8) error { return nil },
		Write: func(ctx context.Context, fid *srv9p.Fid, data []byte, offset int64) (int, error) {
			mu.Lock()
			got = append(got, string(data))
			mu.Unlock()
			return len(data), nil
		},
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { srv.Serve(c, c); c.Close() })
		}
	})
	return "tcp!" + l.Addr().String(), func() []string {
		mu.Lock()
		defer mu.Unlock()
		w := got
		got = nil
		return w
	}
}

// TestNinepWriteLines: 9p write sends its input in writes of whole
// lines, each fitting one message, so no control message is cut across
// two writes; a line longer than a message is refused before anything
// is sent.
func TestNinepWriteLines(t *testing.T) {
	addr, writes := writeServer(t)
	addr = strings.Replace(addr, ":", "!", 1)
	var b strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&b, "target u%d tcp!host%d!17034\n", i, i)
	}
	b.WriteString("target last tcp!last!17034") // no newline
	in := b.String()
	if st, out, errs := runCmd(t, in, nil, "9p", "-a", addr, "write", "/ctl"); st != 0 {
		t.Fatalf("9p write: %d %q %q", st, out, errs)
	}
	w := writes()
	if len(w) < 2 || strings.Join(w, "") != in {
		t.Fatalf("%d writes do not make up the input", len(w))
	}
	for i, x := range w {
		if len(x) > 8192 {
			t.Errorf("write %d is %d bytes, more than a message", i, len(x))
		}
		if i < len(w)-1 && !strings.HasSuffix(x, "\n") {
			t.Errorf("write %d ends in the middle of a line: %q", i, x[len(x)-20:])
		}
	}

	long := "target a tcp!a!1\n" + strings.Repeat("x", 8193) + "\ntarget b tcp!b!1\n"
	st, _, errs := runCmd(t, long, nil, "9p", "-a", addr, "write", "/ctl")
	if want := "replfs 9p: line 2 longer than 8192 bytes\n"; st != 1 || errs != want {
		t.Errorf("long line: %d %q, want %q", st, errs, want)
	}
	if w := writes(); len(w) != 0 {
		t.Errorf("long line: %d writes sent", len(w))
	}
}
