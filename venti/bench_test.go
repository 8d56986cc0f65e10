package venti_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"replfs/venti"
	"replfs/venti/ventitest"
)

// BenchmarkWrite measures 8 KiB writes of new blocks from our client to
// our server on the in-memory store, over loopback TCP, with 1, 16, 64
// and 256 requests in flight on one connection.
func BenchmarkWrite(b *testing.B) {
	for _, inflight := range []int{1, 16, 64, 256} {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) {
			addr, store := ventitest.NewServer(b)
			c := dial(b, addr)
			ctx := context.Background()
			base := make([]byte, 8192)
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range base {
				base[i] = byte(rng.Uint32())
			}
			var next atomic.Int64
			n := int64(b.N)
			b.SetBytes(int64(len(base)))
			b.ResetTimer()
			var wg sync.WaitGroup
			for range inflight {
				wg.Go(func() {
					buf := make([]byte, len(base))
					copy(buf, base)
					for {
						i := next.Add(1)
						if i > n {
							return
						}
						binary.BigEndian.PutUint64(buf, uint64(i)) // a new block each time
						if _, err := c.Write(ctx, venti.DataType, buf); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			if store.Len() != b.N {
				b.Fatalf("store has %d blocks after %d writes", store.Len(), b.N)
			}
		})
	}
}
