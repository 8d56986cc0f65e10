package bucket

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"replfs/venti"
	"replfs/venti/arena"
)

// StoreOptions control OpenStore.
type StoreOptions struct {
	// CacheBytes bounds the object bytes kept in memory; default 64 MiB.
	CacheBytes int64
	Logf       func(format string, args ...any)
}

// maxTails bounds the directory bytes of unsealed arenas a Store holds.
const maxTails = 256 << 20

// A Store is the copy under a prefix served as a read-only venti: its
// arenas rebuilt from their objects, read with range GETs through a
// bounded cache, their blocks found through the arenas' directories
// (arena.Reader). It is a venti.Store that refuses writes.
type Store struct {
	b      *Bucket
	m      *Manifest
	arenas []*arena.Arena
	r      *arena.Reader
	cache  *pageCache
	ctx    context.Context // for reads, which io.ReaderAt gives none
	cancel context.CancelFunc
}

// OpenStore reads the manifest and the directories of unsealed arenas.
func OpenStore(ctx context.Context, b *Bucket, opts StoreOptions) (*Store, error) {
	if opts.CacheBytes <= 0 {
		opts.CacheBytes = 64 << 20
	}
	m, _, err := b.LoadManifest(ctx)
	if err != nil {
		return nil, err
	}
	// The directories of unsealed arenas are held in memory (1.6 MB
	// for an arena of 512 MB of 8 KB blocks): a copy that claims more
	// than maxTails in all is refused, not believed.
	var tails int64
	for _, e := range m.Arenas {
		if !e.Sealed {
			tails += e.Geometry().DirSize(e.Clumps)
		}
	}
	if tails > maxTails {
		return nil, fmt.Errorf("%s: manifest: unsealed arenas with %d bytes of directory: more than %d", b, tails, maxTails)
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Store{b: b, m: m, cache: newPageCache(opts.CacheBytes), ctx: rctx, cancel: cancel}
	for _, e := range m.Arenas {
		a, err := s.open(ctx, e)
		if err != nil {
			cancel()
			return nil, err
		}
		s.arenas = append(s.arenas, a)
	}
	s.r = arena.NewReader(s.arenas, "")
	return s, nil
}

// open rebuilds one arena.
func (s *Store) open(ctx context.Context, e *Entry) (*arena.Arena, error) {
	name := s.b.String() + "/" + e.dirName()
	if e.Sealed {
		a, err := arena.OpenImage(name, &objReader{s: s, name: e.Object, size: e.Size}, e.Size)
		if err != nil {
			return nil, err
		}
		if a.Name != e.Name || a.Score.String() != e.Score || !a.Mem.Sealed {
			return nil, fmt.Errorf("%s: arena %s: %w: object is arena %s score %v", s.b, e.Name, venti.ErrCorrupt, a.Name, a.Score)
		}
		return a, nil
	}
	g := e.Geometry()
	var dir []arena.ClumpInfo
	img := &image{size: e.Size}
	for _, r := range e.Ranges {
		b, _, err := s.b.Get(ctx, r.Dir, int64(r.Clumps)*arena.ClumpInfoSize)
		if err != nil {
			return nil, err
		}
		d, err := arena.UnmarshalDir(b)
		if err == nil && len(d) != int(r.Clumps) {
			err = fmt.Errorf("%w: %d entries, want %d", venti.ErrCorrupt, len(d), r.Clumps)
		}
		lo := r.Lo
		if lo == 0 {
			lo = int64(e.BlockSize)
		}
		if err == nil && arena.LogEnd(d) != r.Hi-lo {
			err = fmt.Errorf("%w: clumps of %d bytes in a range of %d", venti.ErrCorrupt, arena.LogEnd(d), r.Hi-lo)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", s.b, r.Dir, err)
		}
		dir = append(dir, d...)
		img.segs = append(img.segs, segment{lo: r.Lo, hi: r.Hi, r: &objReader{s: s, name: r.Log, size: r.Hi - r.Lo}})
	}
	if len(e.Ranges) == 0 {
		img.segs = append(img.segs, segment{lo: 0, hi: int64(e.BlockSize), data: g.Head()})
	}
	tail, err := g.Tail(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.b, err)
	}
	img.segs = append(img.segs, segment{lo: e.Size - int64(len(tail)), hi: e.Size, data: tail})
	return arena.OpenImage(name, img, e.Size)
}

// Manifest returns the manifest the Store was opened on.
func (s *Store) Manifest() *Manifest { return s.m }

// Arenas returns the arenas, rebuilt, in order.
func (s *Store) Arenas() []*arena.Arena { return s.arenas }

// Read implements venti.Store.
func (s *Store) Read(ctx context.Context, score venti.Score, t venti.Type, max int) ([]byte, error) {
	if score == venti.ZeroScore {
		return nil, nil
	}
	return s.r.Read(ctx, score, t, max)
}

// ErrReadOnly is what Write returns.
var ErrReadOnly = errors.New("read only: a copy in an object store")

// Write implements venti.Store: it refuses.
func (s *Store) Write(ctx context.Context, t venti.Type, data []byte) (venti.Score, error) {
	return venti.Score{}, ErrReadOnly
}

// Sync implements venti.Store: nothing is written.
func (s *Store) Sync(ctx context.Context) error { return nil }

// Close ends reads in progress.
func (s *Store) Close() error {
	s.cancel()
	return nil
}

var _ venti.Store = (*Store)(nil)

// An image is an unsealed arena's bytes: its log objects, its rebuilt
// directory and trailer, and zeros between.
type image struct {
	size int64
	segs []segment // sorted, disjoint
}

type segment struct {
	lo, hi int64
	r      *objReader // or
	data   []byte
}

func (m *image) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > m.size {
		return 0, fmt.Errorf("read %#x+%d outside arena image", off, len(p))
	}
	clear(p)
	end := off + int64(len(p))
	i := sort.Search(len(m.segs), func(i int) bool { return m.segs[i].hi > off })
	for ; i < len(m.segs) && m.segs[i].lo < end; i++ {
		sg := m.segs[i]
		lo, hi := max(off, sg.lo), min(end, sg.hi)
		dst := p[lo-off : hi-off]
		if sg.data != nil {
			copy(dst, sg.data[lo-sg.lo:])
			continue
		}
		if _, err := sg.r.ReadAt(dst, lo-sg.lo); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// An objReader reads an object through the Store's cache.
type objReader struct {
	s    *Store
	name string
	size int64
}

const pageSize = 1 << 20

func (o *objReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > o.size {
		return 0, fmt.Errorf("%s: read %#x+%d outside object %s", o.s.b, off, len(p), o.name)
	}
	n := 0
	for n < len(p) {
		pg := (off + int64(n)) / pageSize
		data, err := o.page(pg)
		if err != nil {
			return n, err
		}
		k := copy(p[n:], data[off+int64(n)-pg*pageSize:])
		n += k
	}
	return n, nil
}

func (o *objReader) page(pg int64) ([]byte, error) {
	key := pageKey{o.name, pg}
	if b := o.s.cache.get(key); b != nil {
		return b, nil
	}
	lo := pg * pageSize
	b := make([]byte, min(pageSize, o.size-lo))
	if err := o.s.b.ReadAt(o.s.ctx, o.name, b, lo); err != nil {
		return nil, err
	}
	o.s.cache.put(key, b)
	return b, nil
}

type pageKey struct {
	name string
	page int64
}

// A pageCache keeps the most recently used pages, up to max bytes.
type pageCache struct {
	mu    sync.Mutex
	max   int64
	bytes int64
	lru   *list.List // of *pageEntry, most recent first
	m     map[pageKey]*list.Element
}

type pageEntry struct {
	key  pageKey
	data []byte
}

func newPageCache(max int64) *pageCache {
	return &pageCache{max: max, lru: list.New(), m: map[pageKey]*list.Element{}}
}

func (c *pageCache) get(k pageKey) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[k]; ok {
		c.lru.MoveToFront(el)
		return el.Value.(*pageEntry).data
	}
	return nil
}

func (c *pageCache) put(k pageKey, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; ok {
		return
	}
	c.m[k] = c.lru.PushFront(&pageEntry{k, data})
	c.bytes += int64(len(data))
	for c.bytes > c.max && c.lru.Len() > 1 {
		el := c.lru.Back()
		pe := el.Value.(*pageEntry)
		c.lru.Remove(el)
		delete(c.m, pe.key)
		c.bytes -= int64(len(pe.data))
	}
}

// RootScor returns the root score log kept with the arenas; none is
// an error.
func (s *Store) RootScor(ctx context.Context) ([]byte, error) {
	if s.m.RootScor == "" {
		return nil, fmt.Errorf("%s: no root score log kept", s.b)
	}
	data, _, err := s.b.Get(ctx, s.m.RootScor, 64<<20)
	return data, err
}
