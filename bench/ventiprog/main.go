// Ventiprog measures arena replication: replfs's CopyArenas into our own
// venti and, when $PLAN9 names a plan9port install, into plan9port
// venti beside plan9port's wrarena, each as a ratio to a baseline
// measured in the same run. It also times an idle pass over 1,000
// arenas.
//
//	go run ./bench/ventiprog [-mb 256] [-dir /tmp]
package main

import (
	"context"
	"crypto/sha1"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"replfs/venti"
	"replfs/venti/arena"
	"replfs/venti/ventitest"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("bench/ventiprog: ")
	mb := flag.Int("mb", 256, "MiB of 8 KiB blocks to replicate")
	tmp := flag.String("dir", os.TempDir(), "where to put partitions")
	flag.Parse()
	dir, err := os.MkdirTemp(*tmp, "ventiprog-bench")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	nblocks := *mb << 20 / 8192
	src := partition(dir, "src.part", int64(*mb)<<20*5/4+64<<20, 128<<20)
	fill(src, nblocks, 1)
	sp, err := arena.OpenPartition(src)
	if err != nil {
		log.Fatal(err)
	}
	var logBytes, dataBytes int64
	for _, a := range sp.Arenas {
		logBytes += int64(a.Mem.Used)
		dataBytes += int64(a.Mem.Uncsize)
	}
	fmt.Printf("data: %d MiB, %d blocks of 8 KiB in %d arenas of 128 MiB\n", *mb, nblocks, count(sp))

	base := baseline(sp)
	fmt.Printf("%-44s %8.1f MB/s\n", "baseline: sequential read + SHA-1 of the logs", mbps(logBytes, base))

	// Into our own venti, in this process.
	tgt := partition(dir, "tgt.part", int64(*mb)<<20*5/4+64<<20, 128<<20)
	store, err := arena.Open(ctx, []string{tgt}, arena.StoreOptions{})
	if err != nil {
		log.Fatal(err)
	}
	addr, stop := serve(store)
	d := copyTime(sp, addr)
	fmt.Printf("%-44s %8.1f MB/s  %.2fx baseline\n", "ventiprog -> our venti, new blocks", mbps(dataBytes, d), float64(base)/float64(d))
	d = copyTime(sp, addr)
	fmt.Printf("%-44s %8.1f MB/s  %.2fx baseline\n", "ventiprog -> our venti, has everything", mbps(dataBytes, d), float64(base)/float64(d))
	stop()
	store.Close()

	if root := os.Getenv("PLAN9"); root != "" {
		plan9port(root, dir, sp, src, dataBytes, nblocks)
	} else {
		fmt.Println("plan9port: $PLAN9 not set, skipped")
	}
	idle(dir)
}

func count(p *arena.Partition) int {
	n := 0
	for _, a := range p.Arenas {
		if a.Mem.Clumps > 0 {
			n++
		}
	}
	return n
}

func mbps(bytes int64, d time.Duration) float64 { return float64(bytes) / d.Seconds() / 1e6 }

// partition makes a sparse arena partition.
func partition(dir, name string, size, arenaSize int64) string {
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		log.Fatal(err)
	}
	f.Truncate(size)
	f.Close()
	if _, err := arena.Format(p, arena.FormatOptions{ArenaSize: arenaSize}); err != nil {
		log.Fatal(err)
	}
	return p
}

// fill writes n distinct random 8 KiB blocks with our Store.
func fill(part string, n int, seed uint64) {
	s, err := arena.Open(context.Background(), []string{part}, arena.StoreOptions{})
	if err != nil {
		log.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, 8192)
	for range n {
		for i := 0; i < len(b); i += 8 {
			binary.LittleEndian.PutUint64(b[i:], r.Uint64())
		}
		if _, err := s.Write(context.Background(), venti.DataType, b); err != nil {
			log.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		log.Fatal(err)
	}
}

// baseline reads every arena's log sequentially, hashing it, and
// returns the best of three passes.
func baseline(p *arena.Partition) time.Duration {
	best := time.Duration(1 << 62)
	f, err := os.Open(p.Name())
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for range 3 {
		start := time.Now()
		h := sha1.New()
		for _, a := range p.Arenas {
			for off, end := a.Base(), a.Base()+int64(a.Mem.Used); off < end; {
				n := min(int64(len(buf)), end-off)
				if _, err := f.ReadAt(buf[:n], off); err != nil {
					log.Fatal(err)
				}
				h.Write(buf[:n])
				off += n
			}
		}
		h.Sum(nil)
		best = min(best, time.Since(start))
	}
	return best
}

// serve runs our venti server on store; stop ends it.
func serve(store venti.Store) (string, func()) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		(&venti.Server{Store: store}).Serve(ctx, l)
		close(done)
	}()
	return "tcp!127.0.0.1!" + fmt.Sprint(l.Addr().(*net.TCPAddr).Port), func() { cancel(); <-done }
}

// copyTime runs CopyArenas from nothing into the venti at addr.
func copyTime(p *arena.Partition, addr string) time.Duration {
	ctx := context.Background()
	c, err := venti.Dial(ctx, addr)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, _, err := arena.CopyArenas(ctx, []*arena.Partition{p}, nil, c, arena.CopyOptions{}); err != nil {
		log.Fatal(err)
	}
	return time.Since(start)
}

// writeTime writes n distinct random blocks to addr, 64 in flight: what
// a target accepts.
func writeTime(addr string, n int, seed uint64) time.Duration {
	ctx := context.Background()
	c, err := venti.Dial(ctx, addr)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			b := make([]byte, 8192)
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				r := rand.New(rand.NewPCG(seed+uint64(i), 1))
				for j := 0; j < len(b); j += 8 {
					binary.LittleEndian.PutUint64(b[j:], r.Uint64())
				}
				if _, err := c.Write(ctx, venti.DataType, b); err != nil {
					log.Fatal(err)
				}
			}
		})
	}
	wg.Wait()
	if err := c.Sync(ctx); err != nil {
		log.Fatal(err)
	}
	return time.Since(start)
}

// plan9port measures, best of three, each in a fresh plan9port venti:
// what the venti accepts from a plain writer with 64 requests in flight,
// ventiprog into it, and plan9port's wrarena into it; each first with
// new blocks, then again when the venti has everything.
func plan9port(root, dir string, sp *arena.Partition, src string, dataBytes int64, nblocks int) {
	size := fmt.Sprintf("%dM", dataBytes>>20*2+256)
	launch := func(name string) (*ventitest.Plan9portVenti, func()) {
		d := filepath.Join(dir, name)
		os.Mkdir(d, 0755)
		v, err := ventitest.LaunchPlan9portVenti(root, d, "", size, "128M")
		if err != nil {
			log.Fatal(err)
		}
		return v, func() { v.Stop(); os.RemoveAll(d) }
	}
	best := func(a *[2]time.Duration, d0, d1 time.Duration) {
		if a[0] == 0 || d0 < a[0] {
			a[0] = d0
		}
		if a[1] == 0 || d1 < a[1] {
			a[1] = d1
		}
	}
	var capa, ours, theirs [2]time.Duration
	for trial := range 3 {
		v, stop := launch(fmt.Sprintf("cap%d", trial))
		best(&capa, writeTime(v.Addr, nblocks, 99), writeTime(v.Addr, nblocks, 99))
		stop()
		v, stop = launch(fmt.Sprintf("ours%d", trial))
		best(&ours, copyTime(sp, v.Addr), copyTime(sp, v.Addr))
		stop()
		v, stop = launch(fmt.Sprintf("theirs%d", trial))
		best(&theirs, wrarena(root, v.Addr, sp, src), wrarena(root, v.Addr, sp, src))
		stop()
	}
	fmt.Printf("%-44s %8.1f MB/s\n", "plan9port venti accepts, new blocks", mbps(dataBytes, capa[0]))
	fmt.Printf("%-44s %8.1f MB/s\n", "plan9port venti accepts, duplicates", mbps(dataBytes, capa[1]))
	fmt.Printf("%-44s %8.1f MB/s  %3.0f%% of what it accepts\n", "ventiprog -> plan9port venti, new blocks", mbps(dataBytes, ours[0]), 100*float64(capa[0])/float64(ours[0]))
	fmt.Printf("%-44s %8.1f MB/s  %3.0f%% of what it accepts\n", "ventiprog -> plan9port venti, has everything", mbps(dataBytes, ours[1]), 100*float64(capa[1])/float64(ours[1]))
	fmt.Printf("%-44s %8.1f MB/s  ventiprog %.2fx\n", "plan9port wrarena -> plan9port venti, new", mbps(dataBytes, theirs[0]), float64(theirs[0])/float64(ours[0]))
	fmt.Printf("%-44s %8.1f MB/s  ventiprog %.2fx\n", "plan9port wrarena -> venti with everything", mbps(dataBytes, theirs[1]), float64(theirs[1])/float64(ours[1]))
}

// wrarena copies every arena with data, each as a byte range (plan9port's
// wrarena on a whole partition ignores offsets), and returns the time.
func wrarena(root, addr string, sp *arena.Partition, src string) time.Duration {
	start := time.Now()
	for _, a := range sp.Arenas {
		if a.Mem.Clumps == 0 {
			continue
		}
		name := fmt.Sprintf("%s:%d-%d", src, a.Start, a.Stop)
		out, err := ventitest.Plan9portCmd(context.Background(), root, "venti/wrarena", "-h", addr, "-o", "0", name, "0").CombinedOutput()
		if err != nil {
			log.Fatalf("wrarena: %v\n%s", err, out)
		}
	}
	return time.Since(start)
}

// idle times a pass with nothing new over a partition of 1,000 arenas.
func idle(dir string) {
	p := partition(dir, "idle.part", 794624+1000<<20+1<<20, 1<<20)
	fill(p, 200, 7) // some data in the first arenas
	sp, err := arena.OpenPartition(p)
	if err != nil {
		log.Fatal(err)
	}
	defer sp.Close()
	ctx := context.Background()
	dst := ventitest.NewMemStore()
	cur, _, err := arena.CopyArenas(ctx, []*arena.Partition{sp}, nil, dst, arena.CopyOptions{})
	if err != nil {
		log.Fatal(err)
	}
	const passes = 20
	start := time.Now()
	for range passes {
		_, st, err := arena.CopyArenas(ctx, []*arena.Partition{sp}, cur, dst, arena.CopyOptions{})
		if err != nil || st.Clumps != 0 {
			log.Fatalf("idle pass: %+v %v", st, err)
		}
	}
	fmt.Printf("%-44s %8.2f ms\n", fmt.Sprintf("idle pass over %d arenas, nothing new", len(sp.Arenas)),
		float64(time.Since(start).Microseconds())/passes/1000)
}
