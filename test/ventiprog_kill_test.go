package test

import (
	"context"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"replfs/venti"
	"replfs/venti/arena"
)

// makeSource writes n blocks of 8 KiB into a fresh partition with our
// Store and returns the partition.
func makeSource(t testing.TB, size, arenaSize string, n int) string {
	t.Helper()
	part := newPartition(t, size, arenaSize)
	addBlocks(t, part, 0, n)
	return part
}

// addBlocks writes blocks first..first+n-1 into part with our Store.
func addBlocks(t testing.TB, part string, first, n int) {
	t.Helper()
	s, err := arena.Open(context.Background(), []string{part}, arena.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := first; i < first+n; i++ {
		if _, err := s.Write(context.Background(), venti.Type(i%2)*venti.DirType, blockFor(uint64(i), 8192)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkBelowCursor reads from the target every clump the cursor says it
// has.
func checkBelowCursor(t *testing.T, src *arena.Partition, cur arena.Cursor, addr string, round int) int {
	t.Helper()
	ctx := context.Background()
	c := dialVenti(t, addr)
	defer c.Close()
	type clump struct {
		arena  string
		off    int64
		score  venti.Score
		typ    venti.Type
		cursor int64
	}
	var below []clump
	for _, a := range src.Arenas {
		pos := cur[a.Name]
		if pos.Offset == 0 {
			continue
		}
		s, err := a.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		s.Scan(ctx, 0, func(cl *arena.Clump) error {
			if cl.Offset < pos.Offset {
				below = append(below, clump{a.Name, cl.Offset, cl.Score, cl.Type, pos.Offset})
			}
			return nil
		})
	}
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for _, cl := range below {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, err := c.Read(ctx, cl.score, cl.typ, venti.MaxLumpSize); err != nil {
				t.Errorf("round %d: %s clump %#x is below the cursor %#x but the target lacks it: %v",
					round, cl.arena, cl.off, cl.cursor, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return len(below)
}

// TestVentiprogKill kills ventiprog (sending over four connections) and
// its target together at random moments, 24 times: after each kill, every clump below the saved
// cursor must be on the restarted target, so a cursor never counts what
// the target had not synced. A final run completes the copy.
func TestVentiprogKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kill rounds skipped in -short mode")
	}
	// The source grows by 20 MiB before each round, so every round is
	// killed with copying under way.
	const perRound = 2500
	srcPart := makeSource(t, "512m", "8m", perRound)
	tgtPart := newPartition(t, "512m", "16m")
	state := t.TempDir()
	rng := rand.New(rand.NewPCG(4, 2026))
	cursorFile := ""
	checked := 0
	total := perRound
	for round := range 24 {
		if round > 0 {
			addBlocks(t, srcPart, total, perRound)
			total += perRound
		}
		tgt := serveVenti(t, tgtPart)
		if cursorFile == "" {
			cursorFile = filepath.Join(state, "ventiprog", cursorFileName(tgt.addr))
		}
		// The target's address changes each round; the cursor is kept by
		// moving it to the new name.
		if round > 0 {
			cur, _ := arena.LoadCursor(cursorFile)
			cursorFile = filepath.Join(state, "ventiprog", cursorFileName(tgt.addr))
			arena.SaveCursor(cursorFile, cur)
		}
		// Four connections, writes spread over them: a cursor must wait
		// for every one that carried a clump below it.
		prog := exec.Command(replfsBin, "ventiprog", "-c", "4", "-p", srcPart, "-d", state, tgt.addr)
		if err := prog.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(5+rng.IntN(70)) * time.Millisecond)
		prog.Process.Kill()
		tgt.kill()
		prog.Wait()

		tgt = serveVenti(t, tgtPart)
		cur, err := arena.LoadCursor(cursorFile)
		if err != nil {
			t.Fatal(err)
		}
		src, err := arena.OpenPartition(srcPart)
		if err != nil {
			t.Fatal(err)
		}
		checked = checkBelowCursor(t, src, cur, tgt.addr, round)
		src.Close()
		arena.SaveCursor(filepath.Join(state, "ventiprog", cursorFileName(tgt.addr)), cur)
		cursorFile = filepath.Join(state, "ventiprog", cursorFileName(tgt.addr))
		tgt.kill()
		t.Logf("round %d: %d of %d clumps below the cursor, all present", round, checked, total)
	}
	// A run to the end completes the target.
	tgt := serveVenti(t, tgtPart)
	cur, _ := arena.LoadCursor(cursorFile)
	arena.SaveCursor(filepath.Join(state, "ventiprog", cursorFileName(tgt.addr)), cur)
	if out, errs, err := runReplfs(t, "ventiprog", "-p", srcPart, "-d", state, tgt.addr); err != nil {
		t.Fatalf("final run: %v\n%s%s", err, out, errs)
	}
	if n := checkHasPartition(t, srcPart, tgt.addr); n != total {
		t.Errorf("target has %d of %d clumps", n, total)
	}
}
