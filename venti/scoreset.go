package venti

import "sync"

// A scoreSet remembers blocks already handled, up to a bound: two
// generations of at most max/2 entries each; when the young one fills,
// the old is dropped. Forgetting only costs work (a block handled
// twice), never correctness, so memory stays bounded (about 60 bytes an
// entry) however big the tree. Safe for concurrent use.
type scoreSet struct {
	max      int
	mu       sync.Mutex // protects following
	old, cur map[setKey]struct{}
}

type setKey struct {
	s Score
	t uint8 // disk type
}

func newScoreSet(max int) *scoreSet {
	return &scoreSet{max: max, cur: map[setKey]struct{}{}}
}

func keyFor(s Score, t Type) setKey {
	d, _ := t.DiskType()
	return setKey{s, d}
}

func (m *scoreSet) has(s Score, t Type) bool {
	k := keyFor(s, t)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.cur[k]; ok {
		return true
	}
	_, ok := m.old[k]
	return ok
}

func (m *scoreSet) add(s Score, t Type) {
	k := keyFor(s, t)
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.cur) >= m.max/2 {
		m.old, m.cur = m.cur, map[setKey]struct{}{}
	}
	m.cur[k] = struct{}{}
}

// A KnownSet remembers, across copies, blocks known to be at a
// destination with everything below them, so a repeated copy does not
// ask about them again. It is bounded as the set a copy keeps; what it
// forgets is only asked about again. Safe for concurrent use.
type KnownSet struct{ s *scoreSet }

// NewKnownSet returns a KnownSet of at most max blocks.
func NewKnownSet(max int) *KnownSet { return &KnownSet{newScoreSet(max)} }

// Has reports whether the block is known to be there.
func (k *KnownSet) Has(s Score, t Type) bool { return k.s.has(s, t) }

// Add records that the block is there.
func (k *KnownSet) Add(s Score, t Type) { k.s.add(s, t) }
