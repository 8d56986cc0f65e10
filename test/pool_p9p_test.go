package test

import (
	"context"
	"crypto/sha1"
	"encoding/binary"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"replfs/venti"
	"replfs/venti/arena"
	"replfs/venti/ventitest"
)

// TestPlan9portPoolSync (issue 14, opt-in with $PLAN9): four
// connections to one plan9port venti carry writes at once, and a Tsync
// on a fifth connection, which wrote nothing, makes every one of them
// durable: after a kill -9 straight after it, without /flushdcache,
// plan9port's arena partition holds them all. That is what the cursor
// rule assumes of a pool. Blocks written after the sync, with none
// following, are counted on disk after a second kill, to say what a
// missing sync would risk.
func TestPlan9portPoolSync(t *testing.T) {
	root := ventitest.Plan9port(t)
	pv := ventitest.StartPlan9portVenti(t, root, "128m", "16m")
	ctx := context.Background()
	p, err := venti.DialPool(ctx, pv.Addr, venti.PoolOptions{Conns: 4, Fixed: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	block := func(i int) []byte {
		b := make([]byte, 8192)
		for j := 0; j < len(b); j += sha1.Size {
			s := sha1.Sum(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(i)), uint64(j)))
			copy(b[j:], s[:])
		}
		return b
	}
	write := func(from, to int) []venti.Score {
		scores := make([]venti.Score, to-from)
		sem := make(chan struct{}, 512)
		var wg sync.WaitGroup
		for i := from; i < to; i++ {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				s, err := p.Write(ctx, venti.DataType, block(i))
				if err != nil {
					t.Error(err)
				}
				scores[i-from] = s
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		return scores
	}
	synced := write(0, 3000)
	if n := p.Stats().Conns; n != 4 {
		t.Fatalf("pool has %d connections, want 4", n)
	}
	other, err := venti.Dial(ctx, pv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	kill9 := func() {
		for _, pid := range ventitest.FindByArg(pv.Conf) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	onDisk := func() map[venti.Score]bool {
		part, err := arena.OpenPartition(filepath.Join(pv.Dir, "arenas.part"))
		if err != nil {
			t.Fatal(err)
		}
		defer part.Close()
		have := map[venti.Score]bool{}
		for _, a := range part.Arenas {
			a.Scan(ctx, 0, func(c *arena.Clump) error {
				if c.Err == nil {
					have[c.Score] = true
				}
				return nil
			})
		}
		return have
	}
	unsynced := write(3000, 3500) // after the sync: on no one's account
	kill9()
	have := onDisk()
	lost := 0
	for _, s := range synced {
		if !have[s] {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d blocks written over four connections and synced over a fifth are not on disk after kill -9", lost, len(synced))
	}
	late := 0
	for _, s := range unsynced {
		if have[s] {
			late++
		}
	}
	t.Logf("synced: %d of %d on disk; written after the sync and never synced: %d of %d on disk", len(synced)-lost, len(synced), late, len(unsynced))
	os.Remove(filepath.Join(pv.Dir, "venti.log"))
}
