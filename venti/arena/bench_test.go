package arena

import (
	"context"
	"testing"
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
