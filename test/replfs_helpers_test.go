package test

import (
	"context"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"9fans.net/go/plan9"
	"9fans.net/go/plan9/client"

	"replfs/venti"
)

// A replfsProc is the replfs file server run by a test, with its own
// state directory, name space directory and ports.
type replfsProc struct {
	*proc
	dir     string
	ns      string // $NAMESPACE: the posted socket is ns/replfs
	addr9p  string // host:port of its TCP listener
	venti   string // the embedded venti's dial string
	env     []string
	tcpDial string
}

// startReplfs starts `replfs` on its embedded venti.
func startReplfs(t testing.TB, dir string) *replfsProc {
	t.Helper()
	return startReplfsEnv(t, dir)
}

// startReplfsEnv is startReplfs with more environment variables.
func startReplfsEnv(t testing.TB, dir string, env ...string) *replfsProc {
	t.Helper()
	return startReplfsArgs(t, dir, env)
}

// startReplfsArgs is startReplfsEnv with more arguments.
func startReplfsArgs(t testing.TB, dir string, env []string, args ...string) *replfsProc {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	r := &replfsProc{dir: dir, ns: t.TempDir()}
	p9, pv := freePort(t), freePort(t)
	r.addr9p = "127.0.0.1:" + strconv.Itoa(p9)
	r.tcpDial = "tcp!127.0.0.1!" + strconv.Itoa(p9)
	r.venti = "tcp!127.0.0.1!" + strconv.Itoa(pv)
	r.env = append([]string{"NAMESPACE=" + r.ns}, env...)
	r.proc = startEnv(t, r.env, "serving 9P on unix", append([]string{"-d", dir, "-S", "512m", "-V", r.venti, "-a", r.tcpDial}, args...)...)
	return r
}

// mount9 attaches the 9fans.net client to r over TCP.
func (r *replfsProc) mount9(t testing.TB) *client.Fsys {
	t.Helper()
	return attach9(t, "tcp", r.addr9p, "", 1)
}

// attach9 attaches to a 9P server as glenda, dialing up to tries times
// 100 ms apart (a server may be coming up); the connection closes when
// the test ends.
func attach9(t testing.TB, network, addr, aname string, tries int) *client.Fsys {
	t.Helper()
	var c *client.Conn
	var err error
	for i := 0; i < tries; i++ {
		if c, err = client.Dial(network, addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fs, err := c.Attach(nil, "glenda", aname)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func read9(t testing.TB, fs *client.Fsys, name string) string {
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

func write9(t testing.TB, fs *client.Fsys, name, text string) error {
	t.Helper()
	f, err := fs.Open(name, plan9.OWRITE)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer f.Close()
	_, err = f.Write([]byte(text))
	return err
}

// waitJob polls a job's status until it has finished and returns the
// status text, and every state seen on the way.
func waitJob(t testing.TB, read func() string) (string, []string) {
	t.Helper()
	var seen []string
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		s := read()
		st := strings.TrimPrefix(strings.SplitN(s, "\n", 2)[0], "state ")
		if len(seen) == 0 || seen[len(seen)-1] != st {
			seen = append(seen, st)
		}
		switch st {
		case "done", "failed", "cancelled":
			return s, seen
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("job did not finish; states %v", seen)
	return "", nil
}

// writeBlocks writes n random 8 KiB blocks to the venti at addr, 64 at
// a time, and syncs.
func writeBlocks(t testing.TB, addr string, seed uint64, n int) {
	t.Helper()
	ctx := context.Background()
	c := dialVenti(t, addr)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			b := make([]byte, 8192)
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				r := rand.New(rand.NewPCG(seed, uint64(i)))
				for j := 0; j < len(b); j += 8 {
					binary.LittleEndian.PutUint64(b[j:], r.Uint64())
				}
				if _, err := c.Write(ctx, venti.DataType, b); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// listDir returns the names in a directory, blank separated, in the
// server's order.
func listDir(t testing.TB, fs *client.Fsys, name string) string {
	t.Helper()
	f, err := fs.Open(name, plan9.OREAD)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dirs, err := f.Dirreadall()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range dirs {
		names = append(names, d.Name)
	}
	return strings.Join(names, " ")
}
