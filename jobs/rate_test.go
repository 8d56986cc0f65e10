package jobs

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"replfs/venti"
	"replfs/venti/arena"
	"replfs/venti/ventitest"
)

// pipePool returns a Pool of n connections to a venti over store, on
// pipes, so that it runs on synctest's clock.
func pipePool(t *testing.T, ctx context.Context, store venti.Store, n int) *venti.Pool {
	t.Helper()
	srv := &venti.Server{Store: store}
	d := &venti.Dialer{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, s := ventitest.BufferedPipe()
		go srv.ServeConn(context.Background(), s)
		return c, nil
	}}
	p, err := venti.DialPool(ctx, "tcp!pipe!17034", venti.PoolOptions{Conns: n, Fixed: true, Dialer: d})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// waitConns waits for p to have n connections.
func waitConns(t *testing.T, p *venti.Pool, n int) {
	for p.Stats().Conns < n {
		time.Sleep(time.Millisecond)
	}
}

// TestRateAcrossConns: a target's rate (target -r) holds for all the
// connections of a pool together, for ventiprog's arena copy and for a
// tree copy, on the fake clock: after the limiter's first second of
// burst, the copy takes what the rate says, within 10%, over at least
// five seconds.
func TestRateAcrossConns(t *testing.T) {
	fx := ventitest.Fixtures(t, "venti")
	part, err := arena.OpenPartition(filepath.Join(fx, "arenas.part"))
	if err != nil {
		t.Fatal(err)
	}
	defer part.Close()
	const rate = 1 << 20
	check := func(t *testing.T, what string, bytes int64, d time.Duration, p *venti.Pool) {
		t.Helper()
		want := time.Duration(float64(bytes-rate) / rate * float64(time.Second)) // the first second is burst
		if want < 5*time.Second {
			t.Fatalf("%s: %d bytes are too few to measure", what, bytes)
		}
		if d < want*9/10 || d > want*11/10 {
			t.Errorf("%s: %d bytes at %d B/s took %v, want %v", what, bytes, rate, d, want)
		}
		if n := p.Stats().Conns; n != 4 {
			t.Errorf("%s: %d connections, want 4", what, n)
		}
		t.Logf("%s: %d bytes in %v over %d connections", what, bytes, d, p.Stats().Conns)
	}
	t.Run("ventiprog", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx := context.Background()
			store := ventitest.NewMemStore()
			p := pipePool(t, ctx, store, 4)
			defer p.Close()
			waitConns(t, p, 4)
			l := newLimiter(rate)
			start := time.Now()
			_, st, err := arena.CopyArenas(ctx, []*arena.Partition{part}, arena.Cursor{}, p,
				arena.CopyOptions{Throttle: func(n int) { l.wait(n, nil) }})
			if err != nil {
				t.Fatal(err)
			}
			check(t, "ventiprog", st.Bytes, time.Since(start), p)
		})
	})
	t.Run("copy", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx := context.Background()
			src := ventitest.NewMemStore()
			root, err := ventitest.MakeTree(ctx, src, 6, 1<<20, 3)
			if err != nil {
				t.Fatal(err)
			}
			p := pipePool(t, ctx, ventitest.NewMemStore(), 4)
			defer p.Close()
			waitConns(t, p, 4)
			l := newLimiter(rate)
			start := time.Now()
			st, err := venti.CopyTree(ctx, src, p, root, venti.TreeOptions{Throttle: func(n int) { l.wait(n, nil) }})
			if err != nil {
				t.Fatal(err)
			}
			check(t, "copy", st.Bytes, time.Since(start), p)
		})
	})
}

// TestDroppedConns: a target whose connections break one at a time
// while a ventiprog runs over four of them finishes the run, the pool
// carrying each broken connection's requests over to the others and
// dialing again, and misses nothing: verify finds both fixture archives
// whole, and the target holds every clump.
func TestDroppedConns(t *testing.T) {
	fx := ventitest.Fixtures(t, "venti")
	addr, store := ventitest.NewServer(t)
	_, hp, err := venti.ParseDialString(addr, "venti")
	if err != nil {
		t.Fatal(err)
	}
	// 5 ms each way, 8 MB/s: the fixture's 6.9 MB take most of a second.
	px, err := ventitest.NewDelayProxy(hp, 5*time.Millisecond, 8e6)
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	e := newEngine(t, t.TempDir())
	ctx := context.Background()
	if err := e.Exec(ctx, "target -c 4 far "+px.Addr()); err != nil {
		t.Fatal(err)
	}
	ids, err := e.ExecJobs(ctx, "ventiprog far")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan string)
	go func() { done <- wait(t, e, ids[0]) }()
	drops := 0
	var st string
	for st == "" {
		select {
		case st = <-done:
		case <-time.After(60 * time.Millisecond):
			// Once the copy is under way (the dial and its first
			// connection's handshake are not what this tests).
			if store.Len() > 0 && px.Conns() > 0 && px.Drop() {
				drops++
			}
		}
	}
	if st != Done {
		t.Fatalf("ventiprog with %d connections dropped: %s\n%s", drops, st, jobStatus(t, e, ids[0]))
	}
	if drops < 3 {
		t.Fatalf("only %d connections dropped during the run: too fast to show anything", drops)
	}
	if n := store.Len(); n != 941 {
		t.Errorf("target holds %d blocks, want the fixture's 941", n)
	}
	var roots []string
	for _, f := range []string{"root1.vac", "root2.vac"} {
		b, err := os.ReadFile(filepath.Join(fx, f))
		if err != nil {
			t.Fatal(err)
		}
		roots = append(roots, strings.TrimSpace(string(b)))
	}
	vst := run(t, e, "verify far "+strings.Join(roots, " "), Done)
	for _, r := range roots {
		if !strings.Contains(vst, "result "+r+" complete ") {
			t.Errorf("verify after %d drops:\n%s", drops, vst)
		}
	}
	ts, _ := e.TargetStatus("far")
	if !strings.Contains(ts, "\nconns 4\n") {
		t.Errorf("target status after the run:\n%s", ts)
	}
	t.Logf("%d connections dropped; the run finished and verify finds both archives", drops)
}
