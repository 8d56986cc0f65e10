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
