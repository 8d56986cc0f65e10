package test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"replfs/venti"
	"replfs/venti/arena"
)

// A ventiProc is a `replfs venti serve` process.
type ventiProc struct {
	*proc
	part  string
	addr  string // venti dial string
	hport int
}

// newPartition formats a sparse partition with `replfs venti fmt`.
func newPartition(t testing.TB, size, arenaSize string) string {
	t.Helper()
	part := filepath.Join(t.TempDir(), "arenas.part")
	if out, err := exec.Command(replfsBin, "venti", "fmt", "-s", size, "-a", arenaSize, part).CombinedOutput(); err != nil {
		t.Fatalf("venti fmt: %v\n%s", err, out)
	}
	return part
}

// serveVenti starts `replfs venti serve` on part, with HTTP.
func serveVenti(t testing.TB, part string) *ventiProc {
	t.Helper()
	v := &ventiProc{part: part, addr: "tcp!127.0.0.1!" + strconv.Itoa(freePort(t)), hport: freePort(t)}
	v.proc = start(t, "serving", "venti", "serve", "-a", v.addr, "-h", "tcp!127.0.0.1!"+strconv.Itoa(v.hport), part)
	return v
}

// get fetches one of the venti's HTTP pages.
func (v *ventiProc) get(t testing.TB, page string) string {
	t.Helper()
	r, err := http.Get("http://127.0.0.1:" + strconv.Itoa(v.hport) + page)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

var clumpsRE = regexp.MustCompile(`(?m)^clumps=([0-9,]+) `)

// clumps returns the venti's clump count from /storage.
func (v *ventiProc) clumps(t testing.TB) int {
	t.Helper()
	m := clumpsRE.FindStringSubmatch(v.get(t, "/storage"))
	if m == nil {
		t.Fatalf("no clumps= in /storage")
	}
	n, _ := strconv.Atoi(string(bytes.ReplaceAll([]byte(m[1]), []byte(","), nil)))
	return n
}

// runReplfs runs a replfs command to completion.
func runReplfs(t testing.TB, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(replfsBin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// checkHasPartition reads every clump of a partition from the venti at
// addr, by score and type.
func checkHasPartition(t testing.TB, part, addr string) int {
	t.Helper()
	ctx := context.Background()
	p, err := arena.OpenPartition(part)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := dialVenti(t, addr)
	n := 0
	for _, a := range p.Arenas {
		if _, err := a.Scan(ctx, 0, func(cl *arena.Clump) error {
			if cl.Err != nil {
				t.Errorf("source %s: %v", a.Name, cl.Err)
				return nil
			}
			got, err := c.Read(ctx, cl.Score, cl.Type, venti.MaxLumpSize)
			if err != nil || !bytes.Equal(got, cl.Data) {
				t.Errorf("%s: %s clump %#x (%v): %v", addr, a.Name, cl.Offset, cl.Score, err)
			}
			n++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return n
}
