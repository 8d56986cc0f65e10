package arena

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"replfs/venti"
	"replfs/venti/ventitest"
)

// BenchmarkScanFixture reads, decompresses and verifies every clump of
// the fixture's two arenas (from the page cache after the first pass).
// Bytes are the clump log's.
func BenchmarkScanFixture(b *testing.B) {
	p, _ := fixturePart(b)
	var used int64
	for _, a := range p.Arenas {
		used += int64(a.Mem.Used)
	}
	b.SetBytes(used)
	ctx := context.Background()
	for b.Loop() {
		for _, a := range p.Arenas {
			if a.Mem.Clumps == 0 {
				continue
			}
			if _, err := a.Scan(ctx, 0, func(c *Clump) error { return c.Err }); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkStoreWrite writes new 8 KiB blocks to our venti server on a
// Store, over loopback TCP, 1 or 64 requests in flight, and syncs at the
// end: the store as a replication target. Blocks are random (whack
// gives up on them) or text (whack shrinks them), stored compressed as
// venti does or, as before whack was written, not (nocompress).
func BenchmarkStoreWrite(b *testing.B) {
	for _, data := range []string{"random", "text"} {
		for _, nocomp := range []bool{true, false} {
			for _, inflight := range []int{1, 64} {
				name := fmt.Sprintf("%s/compress=%v/inflight=%d", data, !nocomp, inflight)
				b.Run(name, func(b *testing.B) { benchStoreWrite(b, data, nocomp, inflight) })
			}
		}
	}
}

func benchStoreWrite(b *testing.B, data string, nocomp bool, inflight int) {
	// Room for b.N blocks, in 512 MiB arenas.
	size := int64(b.N)*(8192+ClumpSize+ClumpInfoSize)*11/10 + 64<<20
	path := newPartition(b, size, min(512<<20, size/2&^8191))
	s, err := Open(context.Background(), []string{path}, StoreOptions{NoCompress: nocomp})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	addr := ventitest.Serve(b, &venti.Server{Store: s})
	c, err := venti.Dial(context.Background(), addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	var next atomic.Int64
	b.SetBytes(8192)
	b.ResetTimer()
	var wg sync.WaitGroup
	for range inflight {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				var buf []byte
				if data == "text" {
					buf = textBlock(int(i), 8192)
				} else {
					buf = block(int(i), 8192)
				}
				if _, err := c.Write(ctx, venti.DataType, buf); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := c.Sync(ctx); err != nil {
		b.Fatal(err)
	}
}

// textWords make textBlock's prose.
var textWords = strings.Fields(`the venti server stores blocks by their score and fossil archives
snapshots into it every night so that a backup host can copy the arenas and re-root a fossil
on the root score which names the archive of a file system in plan nine from bell labs while
replication keeps the sealed arenas once and trickles the newest clumps across a long link`)

// textBlock returns size bytes of text, different for each i: words
// drawn at random, as English shrinks with whack (to about 60%).
func textBlock(i, size int) []byte {
	r := rand.New(rand.NewPCG(uint64(i), 99))
	b := make([]byte, 0, size+16)
	b = fmt.Appendf(b, "block %d\n", i)
	for len(b) < size {
		b = append(b, textWords[r.IntN(len(textWords))]...)
		if r.IntN(12) == 0 {
			b = append(b, ".\n"...)
		} else {
			b = append(b, ' ')
		}
	}
	return b[:size]
}

// BenchmarkWhack compresses 8 KiB blocks on one core: real text (this
// package's source and the manual), textBlock's, and random data, which
// whack declines at once.
func BenchmarkWhack(b *testing.B) {
	for _, data := range []string{"source", "text", "random"} {
		b.Run(data, func(b *testing.B) {
			blocks := make([][]byte, 64)
			for i := range blocks {
				switch data {
				case "text":
					blocks[i] = textBlock(i, 8192)
				case "random":
					blocks[i] = block(i, 8192)
				}
			}
			if data == "source" {
				blocks = sourceBlocks(b)
			}
			dst := make([]byte, 8192)
			var out int64
			b.SetBytes(8192)
			for i := 0; b.Loop(); i++ {
				n := whack(dst, blocks[i%len(blocks)])
				if n < 0 {
					n = 8192
				}
				out += int64(n)
			}
			b.ReportMetric(float64(out)/float64(b.N)/8192, "ratio")
		})
	}
}

// BenchmarkScanStore scans a 256 MiB arena of 8 KiB blocks written by
// our Store: read + SHA-1 of every clump (no compression on write).
func BenchmarkScanStore(b *testing.B) {
	path := newPartition(b, 300<<20, 280<<20)
	s, err := Open(context.Background(), []string{path}, StoreOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < 256<<20/8192; i++ {
		if _, err := s.Write(ctx, venti.DataType, block(i, 8192)); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	p, err := OpenPartition(path)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	a := p.Arenas[0]
	b.SetBytes(int64(a.Mem.Used))
	for b.Loop() {
		if _, err := a.Scan(ctx, 0, func(c *Clump) error { return c.Err }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen1M reopens a store of 1,000,000 clumps: recovery checks
// and the index rebuilt from the directories. It reports the index's
// memory per clump.
func BenchmarkOpen1M(b *testing.B) {
	const n = 1000000
	path := newPartition(b, 200<<20, 192<<20)
	s, err := Open(context.Background(), []string{path}, StoreOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	data := make([]byte, 64)
	for i := range n {
		binary.BigEndian.PutUint64(data, uint64(i))
		if _, err := s.Write(ctx, venti.DataType, data); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	var perClump float64
	for b.Loop() {
		s, err := Open(ctx, []string{path}, StoreOptions{})
		if err != nil {
			b.Fatal(err)
		}
		perClump = float64(s.idx.bytes()) / float64(s.idx.n)
		if s.idx.n != n {
			b.Fatalf("index has %d entries", s.idx.n)
		}
		s.Close()
	}
	b.ReportMetric(perClump, "index-bytes/clump")
}

// BenchmarkRoots looks for root clumps in whole partitions, from the
// page cache after the first pass. Bytes are the arenas' (head to
// trailer, what a scan covers), not just the logs'.
func BenchmarkRoots(b *testing.B) {
	run := func(b *testing.B, p *Partition, nroots int) {
		var size int64
		for _, a := range p.Arenas {
			size += a.Stop - a.Start
		}
		b.SetBytes(size)
		ctx := context.Background()
		for b.Loop() {
			r, err := p.Roots(ctx)
			if err != nil || len(r) != nroots {
				b.Fatalf("%d roots, %v", len(r), err)
			}
		}
	}
	b.Run("fixture", func(b *testing.B) {
		p, _ := fixturePart(b)
		run(b, p, 5)
	})
	// Our store's partitions of 512 MiB arenas, 2 GiB of 8 KiB blocks
	// and 256 MiB of 512-byte ones (16 times the directory per byte),
	// a root after each 1000 blocks, the last arena unsealed.
	for _, tt := range []struct {
		name          string
		size, bsize   int
		nroots, nblks int
	}{
		{"store-8k", 2 << 30, 8192, 250, 1000},
		{"store-512", 256 << 20, 512, 470, 1000},
	} {
		b.Run(tt.name, func(b *testing.B) {
			path, _ := rootsStore(b, int64(tt.size)+64<<20, 512<<20, tt.nroots, tt.nblks, tt.bsize)
			p, err := OpenPartition(path)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			run(b, p, tt.nroots)
		})
	}
}

// sourceBlocks returns 8 KiB blocks of real text: this package's Go
// files and the manual page.
func sourceBlocks(b *testing.B) [][]byte {
	var corpus []byte
	files, _ := filepath.Glob("*.go")
	files = append(files, "../../docs/replfs.4")
	for _, f := range files {
		d, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		corpus = append(corpus, d...)
	}
	var blocks [][]byte
	for i := 0; i+8192 <= len(corpus); i += 8192 {
		blocks = append(blocks, corpus[i:i+8192])
	}
	return blocks
}
