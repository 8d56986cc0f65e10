package test

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"replfs/venti"
	"replfs/venti/arena"
)

// blockFor returns the test block with the given id and size.
func blockFor(id uint64, size int) []byte {
	b := make([]byte, size)
	r := rand.New(rand.NewPCG(id, 77))
	for i := 0; i+8 <= size; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	var idb [8]byte
	binary.BigEndian.PutUint64(idb[:], id)
	copy(b, idb[:])
	return b
}

type written struct {
	id   uint64
	size int
	typ  venti.Type
}

// TestVentiServeKill9 writes to `replfs venti serve` and kills it with
// SIGKILL at random moments, 24 times, its index saved every 100 clumps
// so that kills land in saves too. After each kill the index must agree
// with the arenas (venti check compares them clump by clump), and after
// each restart every block whose Sync had returned must read back
// intact; at the end every clump in the partition must verify.
func TestVentiServeKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 rounds skipped in -short mode")
	}
	part := filepath.Join(t.TempDir(), "arenas.part")
	out, err := exec.Command(replfsBin, "venti", "fmt", "-s", "256m", "-a", "4m", part).CombinedOutput()
	if err != nil {
		t.Fatalf("venti fmt: %v\n%s", err, out)
	}
	rng := rand.New(rand.NewPCG(2026, 11))
	synced := map[venti.Score]written{}
	var nextID uint64
	ctx := context.Background()
	const rounds = 24
	cutSaves := 0 // rounds killed while the index was being saved
	for round := range rounds {
		addr := "tcp!127.0.0.1!" + strconv.Itoa(freePort(t))
		p := start(t, "serving", "venti", "serve", "-n", "100", "-a", addr, part)
		c := dialVenti(t, addr)
		checkSynced(t, c, synced, round)
		// Writers, syncing now and then, until the server dies.
		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := range 4 {
			seed := rng.Uint64()
			wg.Go(func() {
				r := rand.New(rand.NewPCG(seed, uint64(w)))
				var batch []written
				for {
					mu.Lock()
					nextID++
					id := nextID
					mu.Unlock()
					wr := written{id, 1 + r.IntN(8192), venti.Type(r.IntN(2)) * venti.DirType}
					if _, err := c.Write(ctx, wr.typ, blockFor(wr.id, wr.size)); err != nil {
						return
					}
					batch = append(batch, wr)
					if r.IntN(8) == 0 {
						if err := c.Sync(ctx); err != nil {
							return
						}
						mu.Lock()
						for _, b := range batch {
							synced[venti.Sum(blockFor(b.id, b.size))] = b
						}
						mu.Unlock()
						batch = batch[:0]
					}
				}
			})
		}
		if round%2 == 0 {
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		} else {
			// Kill it inside an index save: as soon as its temporary
			// file shows (or after 300 ms).
			tmp := filepath.Join(filepath.Dir(part), "."+filepath.Base(part)+".index.*")
			for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
				if m, _ := filepath.Glob(tmp); len(m) > 0 {
					break
				}
				time.Sleep(200 * time.Microsecond)
			}
		}
		p.kill()
		wg.Wait()
		c.Close()
		out, err := exec.Command(replfsBin, "venti", "check", part).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "index agrees with the arenas") {
			t.Fatalf("round %d: venti check: %v\n%s", round, err, out)
		}
		if strings.Contains(string(out), "unfinished save") {
			cutSaves++
		}
		if round%6 == 0 {
			t.Logf("round %d: %s", round, strings.TrimSpace(string(out)))
		}
	}
	if _, err := os.Stat(part + ".index"); err != nil {
		t.Errorf("no index file: %v", err)
	}
	t.Logf("%d rounds, %d blocks synced, %d kills in an index save", rounds, len(synced), cutSaves)

	// The partition is sound: every clump verifies, and the synced blocks
	// are all there.
	src, err := arena.OpenPartition(part)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	have := map[venti.Score]bool{}
	sealed := 0
	for _, a := range src.Arenas {
		if a.Mem.Sealed {
			sealed++
		}
		_, err := a.Scan(ctx, 0, func(cl *arena.Clump) error {
			if cl.Err != nil {
				t.Errorf("corrupt clump: %v", cl.Err)
			} else {
				have[cl.Score] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for s := range synced {
		if !have[s] {
			t.Errorf("synced block %v not in the arenas", s)
		}
	}
	t.Logf("%d clumps in %d arenas, %d sealed", len(have), len(src.Arenas), sealed)
}

// checkSynced reads every synced block back, 32 at a time.
func checkSynced(t *testing.T, c *venti.Conn, synced map[venti.Score]written, round int) {
	t.Helper()
	ctx := context.Background()
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for s, w := range synced {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			got, err := c.Read(ctx, s, w.typ, venti.MaxLumpSize)
			if err != nil || !bytes.Equal(got, blockFor(w.id, w.size)) {
				t.Errorf("round %d: synced block %v (id %d) lost: %v", round, s, w.id, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}
