package venti

import (
	"context"
	"sync"
)

// testStore is a minimal Store for this package's own tests (ventitest,
// which has the real one, imports venti).
type testStore struct {
	mu     sync.Mutex
	blocks map[[21]byte][]byte
}

func newTestStore() *testStore { return &testStore{blocks: map[[21]byte][]byte{}} }

func tkey(s Score, t Type) [21]byte {
	var k [21]byte
	copy(k[:], s[:])
	k[20], _ = t.DiskType()
	return k
}

func (m *testStore) Read(ctx context.Context, s Score, t Type, max int) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blocks[tkey(s, t)]
	if !ok {
		return nil, NotFound(s, t)
	}
	return b, nil
}

func (m *testStore) Write(ctx context.Context, t Type, data []byte) (Score, error) {
	s := Sum(data)
	m.mu.Lock()
	m.blocks[tkey(s, t)] = append([]byte(nil), data...)
	m.mu.Unlock()
	return s, nil
}

func (m *testStore) Sync(ctx context.Context) error { return nil }
