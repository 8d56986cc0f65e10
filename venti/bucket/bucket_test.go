//go:build unix

package bucket

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"replfs/venti"
	"replfs/venti/arena"
	"replfs/venti/bucket/buckettest"
	"replfs/venti/ventitest"
)

func fixture(t *testing.T) *arena.Partition {
	t.Helper()
	dir := ventitest.Fixtures(t, "venti")
	p, err := arena.OpenPartition(filepath.Join(dir, "arenas.part"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func openBucket(t *testing.T, w *buckettest.Weed, bucket, prefix string) *Bucket {
	t.Helper()
	cfg, err := ParseURL(w.URL(bucket, prefix))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// blocks returns every clump of the partitions' arenas: score, type, data.
type block struct {
	score venti.Score
	t     venti.Type
	data  []byte
}

func blocks(t *testing.T, parts ...*arena.Partition) []block {
	t.Helper()
	var out []block
	for _, p := range parts {
		for _, a := range p.Arenas {
			a, err := a.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			if a.Mem.Clumps == 0 {
				continue
			}
			_, err = a.Scan(context.Background(), 0, func(c *arena.Clump) error {
				if c.Err == nil {
					out = append(out, block{c.Score, c.Type, bytes.Clone(c.Data)})
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

func checkServes(t *testing.T, b *Bucket, want []block) *Store {
	t.Helper()
	ctx := context.Background()
	s, err := OpenStore(ctx, b, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	bad := 0
	for _, bl := range want {
		got, err := s.Read(ctx, bl.score, bl.t, venti.MaxLumpSize)
		if err != nil || !bytes.Equal(got, bl.data) {
			if bad++; bad < 5 {
				t.Errorf("read %v %v: %d bytes, %v", bl.score, bl.t, len(got), err)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d blocks not served", bad, len(want))
	}
	if _, err := s.Write(ctx, venti.DataType, []byte("x")); !errors.Is(err, ErrReadOnly) {
		t.Errorf("write: %v", err)
	}
	return s
}

// The fixture partition uploaded to SeaweedFS is served back whole and
// restored byte for byte; a second upload sends nothing.
func TestUploadFixture(t *testing.T) {
	p := fixture(t)
	w := buckettest.Start(t)
	buckettest.Env(t)
	w.MakeBucket(t, "backup")
	b := openBucket(t, w, "backup", "site/venti")
	ctx := context.Background()

	dry, err := Upload(ctx, b, []*arena.Partition{p}, UploadOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	st, err := Upload(ctx, b, []*arena.Partition{p}, UploadOptions{RootScor: []byte("fossil vac:0 x\n")})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dry %+v, run %+v", dry, st)
	if st.Arenas != 2 || st.Clumps != 941 || st.Objects != 3 || dry.Bytes != st.Bytes || dry.Clumps != st.Clumps {
		t.Errorf("upload %+v, dry run %+v: want 2 arenas, 941 clumps, 3 objects", st, dry)
	}
	again, err := Upload(ctx, b, []*arena.Partition{p}, UploadOptions{RootScor: []byte("fossil vac:0 x\n")})
	if err != nil || again.Objects != 0 || again.Bytes != 0 {
		t.Errorf("second upload: %+v %v", again, err)
	}
	m, _, err := b.LoadManifest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Arenas) != 2 || !m.Arenas[0].Sealed || m.Arenas[1].Sealed || m.Arenas[1].Clumps != 421 || m.RootScor == "" {
		t.Errorf("manifest: %+v", m)
	}
	data, _, err := b.Get(ctx, m.RootScor, 1<<20)
	if err != nil || string(data) != "fossil vac:0 x\n" {
		t.Errorf("rootscor: %q %v", data, err)
	}
	s := checkServes(t, b, blocks(t, p))

	path := filepath.Join(t.TempDir(), "restored.arenas")
	rst, err := Restore(ctx, s, path)
	if err != nil {
		t.Fatal(err)
	}
	if rst.Arenas != 2 || rst.Clumps != 941 {
		t.Errorf("restore: %+v", rst)
	}
	q, err := arena.OpenPartition(path)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Arenas[0].VerifyScore(); err != nil {
		t.Error(err)
	}
	// The sealed arena is byte for byte the source's.
	a0, b0 := make([]byte, p.Arenas[0].Stop-p.Arenas[0].Start), make([]byte, q.Arenas[0].Stop-q.Arenas[0].Start)
	p.Arenas[0].ReadAt(a0, 0)
	q.Arenas[0].ReadAt(b0, 0)
	if !bytes.Equal(a0, b0) {
		t.Error("restored sealed arena differs")
	}
	src, got := blocks(t, p), blocks(t, q)
	if len(src) != len(got) {
		t.Fatalf("restored %d blocks, want %d", len(got), len(src))
	}
	for i := range src {
		if src[i].score != got[i].score || !bytes.Equal(src[i].data, got[i].data) {
			t.Fatalf("restored block %d differs", i)
		}
	}
	if _, err := Restore(ctx, s, path); err == nil {
		t.Error("restore overwrote a partition")
	}
	// Our own venti opens it.
	vs, err := arena.Open(ctx, []string{path}, arena.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, bl := range src[:50] {
		if d, err := vs.Read(ctx, bl.score, bl.t, venti.MaxLumpSize); err != nil || !bytes.Equal(d, bl.data) {
			t.Errorf("restored venti: %v %v", bl.score, err)
		}
	}
	vs.Close()
}

// newVenti formats a partition of small arenas and opens our venti on it.
func newVenti(t *testing.T, size, arenaSize int64) (string, *arena.Store) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "arenas")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(size)
	f.Close()
	if _, err := arena.Format(path, arena.FormatOptions{ArenaSize: arenaSize}); err != nil {
		t.Fatal(err)
	}
	s, err := arena.Open(context.Background(), []string{path}, arena.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return path, s
}

func writeRandom(t *testing.T, s *arena.Store, n, size int) {
	t.Helper()
	ctx := context.Background()
	buf := make([]byte, size)
	for range n {
		rand.Read(buf)
		if _, err := s.Write(ctx, venti.DataType, buf); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

// waitScored waits until every sealed arena of the partition has its score.
func waitScored(t *testing.T, path string) *arena.Partition {
	t.Helper()
	for range 200 {
		p, err := arena.OpenPartition(path)
		if err != nil {
			t.Fatal(err)
		}
		ok := true
		for _, a := range p.Arenas {
			if a.Mem.Sealed && a.Score == (venti.Score{}) {
				ok = false
			}
		}
		if ok {
			t.Cleanup(func() { p.Close() })
			return p
		}
		p.Close()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("arenas not summed")
	return nil
}

// New clumps are sent as new ranges, an arena that seals becomes one
// object and its ranges go; writers of other prefixes do not meet; a
// second writer of one prefix, and another venti's arenas, are refused.
func TestUploadGrowing(t *testing.T) {
	w := buckettest.Start(t)
	buckettest.Env(t)
	w.MakeBucket(t, "grow")
	ctx := context.Background()
	path, vs := newVenti(t, 8<<20, 1<<20)
	b := openBucket(t, w, "grow", "a")
	opts := UploadOptions{Checkpoint: 256 << 10, PartSize: 5 << 20}

	writeRandom(t, vs, 40, 8000) // a third of the first arena
	p := waitScored(t, path)
	st, err := Upload(ctx, b, []*arena.Partition{p}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if st.Clumps != 40 || st.Objects != 4 {
		t.Errorf("first: %+v, want 40 clumps in 2 ranges", st)
	}
	checkServes(t, b, blocks(t, p))

	writeRandom(t, vs, 20, 8000)
	p = waitScored(t, path)
	if st, err = Upload(ctx, b, []*arena.Partition{p}, opts); err != nil || st.Clumps != 20 {
		t.Fatalf("second: %+v %v", st, err)
	}
	checkServes(t, b, blocks(t, p))

	writeRandom(t, vs, 200, 8000) // seals the first arena and more
	p = waitScored(t, path)
	if !p.Arenas[0].Mem.Sealed || !p.Arenas[1].Mem.Sealed {
		t.Fatal("arenas did not seal")
	}
	if st, err = Upload(ctx, b, []*arena.Partition{p}, opts); err != nil {
		t.Fatal(err)
	}
	m, _, err := b.LoadManifest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Arenas[0].Sealed || !m.Arenas[1].Sealed || m.Arenas[0].Object == "" {
		t.Errorf("manifest after sealing: %+v", m.Arenas[0])
	}
	s := checkServes(t, b, blocks(t, p))
	// The first arena's range objects are gone: only named objects stay.
	named := map[string]bool{manifestName: true}
	for _, o := range m.Objects() {
		named[o] = true
	}
	for o := range b.list(t) {
		if !named[o] {
			t.Errorf("object %s left behind", o)
		}
	}
	if got := s.Arenas()[0]; got.VerifyScore() != nil {
		t.Errorf("sealed object: %v", got.VerifyScore())
	}

	// A second prefix is another copy.
	b2 := openBucket(t, w, "grow", "b")
	if st, err := Upload(ctx, b2, []*arena.Partition{p}, opts); err != nil || st.Clumps != 260 {
		t.Errorf("second prefix: %+v %v", st, err)
	}
	// A writer whose manifest is stale is refused and changes nothing.
	writeRandom(t, vs, 10, 8000)
	p = waitScored(t, path)
	m1, etag, _ := b.LoadManifest(ctx)
	if _, err := Upload(ctx, b, []*arena.Partition{p}, opts); err != nil {
		t.Fatal(err)
	}
	m1.Arenas = m1.Arenas[:1]
	if _, err := b.saveManifest(ctx, m1, etag); !errors.Is(err, ErrConflict) {
		t.Errorf("stale manifest write: %v", err)
	}
	// Another venti's arenas of the same names are refused.
	path2, vs2 := newVenti(t, 8<<20, 1<<20)
	writeRandom(t, vs2, 5, 8000)
	p2 := waitScored(t, path2)
	if _, err := Upload(ctx, b, []*arena.Partition{p2}, opts); !errors.Is(err, ErrConflict) {
		t.Errorf("another venti's arenas: %v", err)
	}
	checkServes(t, b, blocks(t, p))
}

func (b *Bucket) list(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	ctx := context.Background()
	for o := range b.core.Client.ListObjects(ctx, b.cfg.Bucket, minioListOpts(b.key(""))) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		out[o.Key[len(b.key("")):]] = true
	}
	return out
}

var _ = io.EOF

// Two writers of one prefix at once: the manifest's conditional write
// lets one through and refuses the other, whose objects are never
// named; the copy is whole after.
func TestTwoWriters(t *testing.T) {
	w := buckettest.Start(t)
	buckettest.Env(t)
	w.MakeBucket(t, "two")
	ctx := context.Background()
	path, vs := newVenti(t, 16<<20, 4<<20)
	writeRandom(t, vs, 700, 8000)
	p := waitScored(t, path)
	opts := UploadOptions{Checkpoint: 256 << 10, PartSize: 5 << 20}
	for round := range 3 {
		b1, b2 := openBucket(t, w, "two", fmt.Sprint("p", round)), openBucket(t, w, "two", fmt.Sprint("p", round))
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, b := range []*Bucket{b1, b2} {
			wg.Go(func() { _, errs[i] = Upload(ctx, b, []*arena.Partition{p}, opts) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrConflict) && strings.Contains(err.Error(), "another writer"):
			default:
				t.Errorf("round %d: %v", round, err)
			}
		}
		t.Logf("round %d: %v", round, errs)
		if ok == 0 {
			t.Errorf("round %d: both writers refused", round)
		}
		if st, err := Upload(ctx, b1, []*arena.Partition{p}, opts); err != nil || st.Objects != 0 {
			t.Errorf("round %d: after both, %+v %v", round, st, err)
		}
		checkServes(t, b1, blocks(t, p))
	}
}
