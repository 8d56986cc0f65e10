package venti_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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

// countingStore counts the requests a destination gets.
type countingStore struct {
	*ventitest.MemStore
	reads, writes atomic.Int64
}

func (c *countingStore) Read(ctx context.Context, s venti.Score, t venti.Type, max int) ([]byte, error) {
	c.reads.Add(1)
	return c.MemStore.Read(ctx, s, t, max)
}

func (c *countingStore) Write(ctx context.Context, t venti.Type, b []byte) (venti.Score, error) {
	c.writes.Add(1)
	return c.MemStore.Write(ctx, t, b)
}

// TestCopyTreeKnown: with a KnownSet, a repeated copy asks the
// destination nothing about what an earlier one copied, and Throttle
// sees every byte written.
func TestCopyTreeKnown(t *testing.T) {
	ctx := context.Background()
	src := ventitest.NewMemStore()
	root, err := ventitest.MakeTree(ctx, src, 4, 100000, 3)
	if err != nil {
		t.Fatal(err)
	}
	dst := &countingStore{MemStore: ventitest.NewMemStore()}
	known := venti.NewKnownSet(1 << 10)
	var throttled atomic.Int64
	opts := venti.TreeOptions{Fast: true, Known: known, Throttle: func(n int) { throttled.Add(int64(n)) }}
	st, err := venti.CopyTree(ctx, src, dst, root, opts)
	if err != nil || st.Blocks != int64(src.Len()) {
		t.Fatalf("first copy: %+v %v (source has %d)", st, err, src.Len())
	}
	if throttled.Load() != st.Bytes {
		t.Errorf("throttle saw %d bytes of %d", throttled.Load(), st.Bytes)
	}
	reads, writes := dst.reads.Load(), dst.writes.Load()
	st, err = venti.CopyTree(ctx, src, dst, root, opts)
	if err != nil || st.Blocks != 0 || st.Skipped != 1 {
		t.Errorf("second copy: %+v %v", st, err)
	}
	if dst.reads.Load() != reads || dst.writes.Load() != writes {
		t.Errorf("second copy asked the destination %d reads %d writes", dst.reads.Load()-reads, dst.writes.Load()-writes)
	}
}
