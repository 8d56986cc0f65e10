package jobs

import (
	"context"
	"strings"
	"sync"
	"testing"

	"replfs/venti"
	"replfs/venti/ventitest"
)

// damaged is a store that has lost some blocks and returns others
// altered.
type damaged struct {
	*ventitest.MemStore
	mu      sync.Mutex    // protects following
	data    []venti.Score // data blocks written, in order
	corrupt map[venti.Score]bool
}

func (d *damaged) Write(ctx context.Context, t venti.Type, b []byte) (venti.Score, error) {
	s, err := d.MemStore.Write(ctx, t, b)
	if err == nil && t == venti.DataType {
		d.mu.Lock()
		d.data = append(d.data, s)
		d.mu.Unlock()
	}
	return s, err
}

func (d *damaged) Read(ctx context.Context, s venti.Score, t venti.Type, max int) ([]byte, error) {
	b, err := d.MemStore.Read(ctx, s, t, max)
	d.mu.Lock()
	bad := d.corrupt[s]
	d.mu.Unlock()
	if err == nil && bad {
		b = append([]byte("x"), b[1:]...)
	}
	return b, err
}

// TestVerifyCountsRoots: a root with both missing and corrupt blocks is
// one incomplete root.
func TestVerifyCountsRoots(t *testing.T) {
	ctx := context.Background()
	d := &damaged{MemStore: ventitest.NewMemStore(), corrupt: map[venti.Score]bool{}}
	root, err := ventitest.MakeTree(ctx, d, 2, 64<<10, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.data) < 4 {
		t.Fatalf("tree has %d data blocks", len(d.data))
	}
	d.Delete(d.data[0], venti.DataType)
	d.corrupt[d.data[2]] = true
	addr := ventitest.Serve(t, &venti.Server{Store: d})
	e := newEngine(t, t.TempDir())
	st := run(t, e, "verify -r "+addr+" vac:"+root.String(), Failed)
	for _, w := range []string{"result vac:" + root.String() + " missing 1 corrupt 1 of ", "error 1 of 1 roots incomplete\n"} {
		if !strings.Contains(st, w) {
			t.Errorf("status lacks %q:\n%s", w, st)
		}
	}
}

// Errors are one line that names the root once; verify of a root the
// target lacks says root missing.
func TestTreeErrorLines(t *testing.T) {
	e := newEngine(t, t.TempDir())
	a, _ := ventitest.NewServer(t)
	b, _ := ventitest.NewServer(t)
	root := "vac:1c94de5d65de1a7370e6f1dc43e345c0ea721fab"
	st := run(t, e, "copy "+a+" "+b+" "+root, Failed)
	errLine := ""
	for _, l := range strings.Split(st, "\n") {
		if strings.HasPrefix(l, "error ") {
			errLine = l
		}
	}
	if n := strings.Count(errLine, root); n != 1 || !strings.HasPrefix(errLine, "error "+root+": ") {
		t.Errorf("copy of a missing root: %d mentions of it:\n%s", n, st)
	}
	st = run(t, e, "verify "+b+" "+root, Failed)
	if !strings.Contains(st, "result "+root+" root missing\n") {
		t.Errorf("verify:\n%s", st)
	}
}
