// Package ventitest provides an in-memory venti store and a server on it
// for tests. Nothing here is a promised API.
package ventitest

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"

	"replfs/venti"
)

// MemStore is a venti.Store in memory, keyed like plan9port venti by
// (score, disk type): a data pointer block and a dir pointer block of
// the same depth are the same block. It is safe for concurrent use.
type MemStore struct {
	mu     sync.RWMutex // protects following
	blocks map[key][]byte
	writes int // Write calls that stored a new block
	syncs  int
}

type key struct {
	score venti.Score
	dtype uint8
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{blocks: make(map[key][]byte)}
}

func keyOf(s venti.Score, t venti.Type) (key, bool) {
	d, ok := t.DiskType()
	return key{s, d}, ok
}

// Read implements venti.Store.
func (m *MemStore) Read(ctx context.Context, s venti.Score, t venti.Type, max int) ([]byte, error) {
	k, ok := keyOf(s, t)
	if !ok {
		return nil, venti.NotFound(s, t)
	}
	m.mu.RLock()
	b, ok := m.blocks[k]
	m.mu.RUnlock()
	if !ok {
		return nil, venti.NotFound(s, t)
	}
	return b, nil
}

// Write implements venti.Store. As the Store contract allows, it keeps
// data itself, not a copy: callers do not reuse it.
func (m *MemStore) Write(ctx context.Context, t venti.Type, data []byte) (venti.Score, error) {
	s := venti.Sum(data)
	k, ok := keyOf(s, t)
	if !ok {
		return venti.Score{}, venti.ErrCorrupt
	}
	m.mu.RLock()
	_, have := m.blocks[k]
	m.mu.RUnlock()
	if have {
		return s, nil
	}
	m.mu.Lock()
	if _, have := m.blocks[k]; !have {
		m.blocks[k] = data
		m.writes++
	}
	m.mu.Unlock()
	return s, nil
}

// Sync implements venti.Store; it only counts.
func (m *MemStore) Sync(ctx context.Context) error {
	m.mu.Lock()
	m.syncs++
	m.mu.Unlock()
	return nil
}

// Len returns the number of blocks stored.
func (m *MemStore) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.blocks)
}

// Has reports whether the block is stored.
func (m *MemStore) Has(s venti.Score, t venti.Type) bool {
	k, ok := keyOf(s, t)
	if !ok {
		return false
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, have := m.blocks[k]
	return have
}

// Delete removes a block, to make a store incomplete in a test.
func (m *MemStore) Delete(s venti.Score, t venti.Type) {
	k, _ := keyOf(s, t)
	m.mu.Lock()
	delete(m.blocks, k)
	m.mu.Unlock()
}

// Syncs returns how many times Sync was called.
func (m *MemStore) Syncs() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.syncs
}

// NewServer starts a venti.Server on a MemStore, listening on a loopback
// TCP port, and stops it when the test ends. It returns the server's
// address as a dial string and the store.
func NewServer(t testing.TB) (addr string, store *MemStore) {
	t.Helper()
	store = NewMemStore()
	return Serve(t, &venti.Server{Store: store}), store
}

// Serve runs srv on a loopback TCP port until the test ends and returns
// its address as a dial string.
func Serve(t testing.TB, srv *venti.Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ctx, l)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	a := l.Addr().(*net.TCPAddr)
	return "tcp!127.0.0.1!" + strconv.Itoa(a.Port)
}
