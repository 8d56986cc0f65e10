package venti_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"replfs/venti"
	"replfs/venti/ventitest"
)

func dial(t testing.TB, addr string) *venti.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := venti.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestWriteReadSyncPing(t *testing.T) {
	addr, store := ventitest.NewServer(t)
	c := dial(t, addr)
	ctx := context.Background()
	if c.Version() != venti.Version04 {
		t.Errorf("version %q, want 04", c.Version())
	}
	data := []byte("hello, venti")
	s, err := c.Write(ctx, venti.DataType, data)
	if err != nil {
		t.Fatal(err)
	}
	if s != venti.Sum(data) {
		t.Errorf("score %v, want %v", s, venti.Sum(data))
	}
	got, err := c.Read(ctx, s, venti.DataType, 100)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read: %q, %v", got, err)
	}
	// The same score under another type is another block.
	_, err = c.Read(ctx, s, venti.DirType, 100)
	if !venti.IsNotFound(err) {
		t.Errorf("read as dir: %v, want not found", err)
	}
	want := fmt.Sprintf("no block with score %v/8 exists", s)
	if err == nil || err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	// Too small a count.
	_, err = c.Read(ctx, s, venti.DataType, 3)
	if err == nil || err.Error() != "read too small: asked for 3 need at least 12" {
		t.Errorf("small read: %v", err)
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if store.Syncs() != 1 {
		t.Errorf("syncs %d, want 1", store.Syncs())
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	// Zero-length write and zero-score read need no round trip.
	if s, err := c.Write(ctx, venti.DataType, nil); err != nil || s != venti.ZeroScore {
		t.Errorf("empty write: %v %v", s, err)
	}
	if b, err := c.Read(ctx, venti.ZeroScore, venti.RootType, 0); err != nil || len(b) != 0 {
		t.Errorf("zero read: %q %v", b, err)
	}
	// Pointer blocks: data+2 reads back as dir+2 (same wire type).
	ptr := bytes.Repeat([]byte{1}, 40)
	ps, err := c.Write(ctx, venti.DataType+2, ptr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(ctx, ps, venti.DirType+2, 100); err != nil {
		t.Errorf("read pointer as dir+2: %v", err)
	}
	c.Close()
	if _, err := c.Read(ctx, s, venti.DataType, 100); !errors.Is(err, venti.ErrClosed) {
		t.Errorf("read after close: %v, want ErrClosed", err)
	}
}

func TestManyGoroutines(t *testing.T) {
	addr, store := ventitest.NewServer(t)
	c := dial(t, addr)
	ctx := context.Background()
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			data := fmt.Appendf(nil, "block %d %s", i, bytes.Repeat([]byte{byte(i)}, i))
			s, err := c.Write(ctx, venti.DataType, data)
			if err != nil {
				errs <- err
				return
			}
			if s != venti.Sum(data) {
				errs <- fmt.Errorf("block %d: score %v want %v", i, s, venti.Sum(data))
				return
			}
			got, err := c.Read(ctx, s, venti.DataType, venti.MaxLumpSize)
			if err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(got, data) {
				errs <- fmt.Errorf("block %d: read back differs", i)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if store.Len() != n {
		t.Errorf("store has %d blocks, want %d", store.Len(), n)
	}
}

func TestWriteScore(t *testing.T) {
	addr, store := ventitest.NewServer(t)
	c := dial(t, addr)
	ctx := context.Background()
	data := []byte("known score")
	if err := c.WriteScore(ctx, venti.DataType, data, venti.Sum(data)); err != nil {
		t.Fatal(err)
	}
	if !store.Has(venti.Sum(data), venti.DataType) {
		t.Error("block not stored")
	}
	// A wrong score is caught by the server's answer.
	if err := c.WriteScore(ctx, venti.DataType, data, venti.ZeroScore); !errors.Is(err, venti.ErrCorrupt) {
		t.Errorf("wrong score: %v", err)
	}
}

// TestCopyTreeNetwork copies a generated tree between two of our
// servers over TCP, checks it, and checks that -f after a full copy
// skips at the top.
func TestCopyTreeNetwork(t *testing.T) {
	ctx := context.Background()
	srcAddr, srcStore := ventitest.NewServer(t)
	dstAddr, dstStore := ventitest.NewServer(t)
	root, err := ventitest.MakeTree(ctx, srcStore, 8, 300000, 7)
	if err != nil {
		t.Fatal(err)
	}
	src, dst := dial(t, srcAddr), dial(t, dstAddr)
	st, err := venti.CopyTree(ctx, src, dst, root, venti.TreeOptions{Window: 16})
	if err != nil {
		t.Fatal(err)
	}
	if dstStore.Len() != srcStore.Len() {
		t.Errorf("copied %d blocks (%+v), source has %d", dstStore.Len(), st, srcStore.Len())
	}
	vs, err := venti.VerifyTree(ctx, dst, root, venti.TreeOptions{ReadAll: true})
	if err != nil || vs.Missing != 0 || vs.Corrupt != 0 || vs.Blocks != int64(srcStore.Len()) {
		t.Errorf("verify: %+v %v (source has %d)", vs, err, srcStore.Len())
	}
	st, err = venti.CopyTree(ctx, src, dst, root, venti.TreeOptions{Fast: true})
	if err != nil || st.Skipped != 1 || st.Blocks != 0 {
		t.Errorf("copy -f of a complete tree: %+v %v", st, err)
	}
}
