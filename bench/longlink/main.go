// Longlink measures ventiprog (arena copies) and copy (tree copies)
// into our venti through a proxy that holds every byte half the round
// trip each way (ventitest.DelayProxy), at 0, 50 and 200 ms: replfs's
// Pool with its self-sizing window beside one connection with today's
// fixed window, as ratios, several runs each. With $PLAN9 set it runs
// plan9port's wrarena and venti/copy through the same proxy on a small
// slice of the data (they move one request at a time or nearly, and
// would take hours on all of it).
//
//	go run ./bench/longlink [-mb 256] [-runs 3] [-rtt 0,50ms,200ms]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"replfs/venti"
	"replfs/venti/arena"
	"replfs/venti/ventitest"
)

var (
	mb    = flag.Int("mb", 256, "MiB of file data")
	runs  = flag.Int("runs", 3, "runs of each measurement (the best is kept)")
	rtts  = flag.String("rtt", "0,50ms,200ms", "round trips to measure")
	tmp   = flag.String("dir", os.TempDir(), "where to put partitions")
	p9mb  = flag.Int("p9mb", 4, "MiB plan9port's tools copy")
	fixed = flag.Int("w", 64, "the fixed window of the baseline")
	base  = flag.Bool("base", true, "measure the one-connection baseline too")
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("bench/longlink: ")
	flag.Parse()
	dir, err := os.MkdirTemp(*tmp, "longlink")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	// The source: a partition of our store holding a tree of files.
	srcPart := filepath.Join(dir, "src.part")
	s := newStore(srcPart, *mb)
	// Files of 1 MiB or more: MakeTree puts the top directory in one
	// block, which must stay within the 8 KiB a walk reads.
	fmb := max(1, *mb/128)
	root, err := ventitest.MakeTree(ctx, s, *mb/fmb, fmb<<20, 42)
	if err != nil {
		log.Fatal(err)
	}
	s.Close()
	parts, err := openParts(srcPart)
	if err != nil {
		log.Fatal(err)
	}
	var logBytes int64
	for _, p := range parts {
		for _, a := range p.Arenas {
			logBytes += int64(a.Mem.Used)
		}
	}
	s, err = arena.Open(ctx, []string{srcPart}, arena.StoreOptions{})
	if err != nil {
		log.Fatal(err)
	}
	srcAddr, stopSrc := serve(s)
	defer stopSrc()
	data := int64(*mb) << 20
	fmt.Printf("source: %d MiB in files of %d MiB, %d MB of arena log, vac:%v\n", *mb, fmb, logBytes/1e6, root)

	n := 0
	target := func() (string, func()) {
		n++
		p := filepath.Join(dir, fmt.Sprintf("t%d.part", n))
		st := newStore(p, *mb)
		addr, stop := serve(st)
		return addr, func() { stop(); st.Close(); os.Remove(p) }
	}
	for _, r := range strings.Split(*rtts, ",") {
		rtt, err := time.ParseDuration(r)
		if r == "0" {
			rtt, err = 0, nil
		}
		if err != nil {
			log.Fatal(err)
		}
		through := func(addr string) (string, func()) {
			if rtt == 0 {
				return addr, func() {}
			}
			_, hp, _ := venti.ParseDialString(addr, "venti")
			px, err := ventitest.NewDelayProxy(hp, rtt/2, 0)
			if err != nil {
				log.Fatal(err)
			}
			return px.Addr(), func() { px.Close() }
		}
		measure := func(f func(dst string) (string, error)) (time.Duration, string) {
			var bestD time.Duration
			var note string
			for range *runs {
				addr, stop := target()
				paddr, pstop := through(addr)
				t0 := time.Now()
				nt, err := f(paddr)
				d := time.Since(t0)
				pstop()
				stop()
				if err != nil {
					log.Fatal(err)
				}
				if bestD == 0 || d < bestD {
					bestD, note = d, nt
				}
			}
			return bestD, note
		}
		ventiprog := func(pool bool) func(string) (string, error) {
			return func(dst string) (string, error) {
				d, note, err := dialTarget(ctx, dst, pool)
				if err != nil {
					return "", err
				}
				defer d.Close()
				_, _, err = arena.CopyArenas(ctx, parts, arena.Cursor{}, d, arena.CopyOptions{Window: map[bool]int{false: *fixed}[pool]})
				return note(), err
			}
		}
		treecopy := func(pool bool) func(string) (string, error) {
			return func(dst string) (string, error) {
				sc, err := venti.Dial(ctx, srcAddr)
				if err != nil {
					return "", err
				}
				defer sc.Close()
				d, note, err := dialTarget(ctx, dst, pool)
				if err != nil {
					return "", err
				}
				defer d.Close()
				w := 0
				if !pool {
					w = 256 // copy's default
				}
				if _, err := venti.CopyTree(ctx, sc, d, root, venti.TreeOptions{Window: w}); err != nil {
					return "", err
				}
				return note(), d.Sync(ctx)
			}
		}
		pv, pnote := measure(ventiprog(true))
		pc, cnote := measure(treecopy(true))
		fv, fc := pv, pc
		if *base {
			fv, _ = measure(ventiprog(false))
			fc, _ = measure(treecopy(false))
		}
		fmt.Printf("rtt %-6v ventiprog %7.1f MB/s (%4.1fx one conn window %d: %6.1f MB/s)  %s\n", rtt,
			mbps(logBytes, pv), float64(fv)/float64(pv), *fixed, mbps(logBytes, fv), pnote)
		fmt.Printf("rtt %-6v copy      %7.1f MB/s (%4.1fx one conn window 256: %6.1f MB/s)  %s\n", rtt,
			mbps(data, pc), float64(fc)/float64(pc), mbps(data, fc), cnote)
		if root9 := os.Getenv("PLAN9"); root9 != "" && rtt > 0 {
			plan9port(ctx, root9, dir, rtt, through, target, mbps(logBytes, pv), mbps(data, pc))
		}
	}
}

// closer is what both kinds of target connection are.
type closer interface {
	arena.Target
	venti.BlockReader
	Close() error
}

// dialTarget dials a Pool, or one Conn; note describes the pool at the
// end of the run.
func dialTarget(ctx context.Context, addr string, pool bool) (closer, func() string, error) {
	if !pool {
		c, err := venti.Dial(ctx, addr)
		return c, func() string { return "" }, err
	}
	p, err := venti.DialPool(ctx, addr, venti.PoolOptions{})
	if err != nil {
		return nil, nil, err
	}
	return p, func() string { return p.Stats().String() }, nil
}

// plan9port runs plan9port's wrarena and venti/copy through the proxy
// on a small partition of its own, and prints our rates against theirs.
func plan9port(ctx context.Context, root9, dir string, rtt time.Duration,
	through func(string) (string, func()), target func() (string, func()), ours, oursCopy float64) {
	path := filepath.Join(dir, "p9.part")
	s := newStore(path, *p9mb)
	root, err := ventitest.MakeTree(ctx, s, *p9mb, 1<<20, 7)
	if err != nil {
		log.Fatal(err)
	}
	s.Close()
	p, err := arena.OpenPartition(path)
	if err != nil {
		log.Fatal(err)
	}
	m := p.Map()[0]
	used := int64(p.Arenas[0].Mem.Used)
	p.Close()
	addr, stop := target()
	paddr, pstop := through(addr)
	t0 := time.Now()
	out, err := ventitest.Plan9portCmd(ctx, root9, "venti/wrarena", "-h", paddr, "-o", "0",
		fmt.Sprintf("%s:%d-%d", path, m.Start, m.Stop), "0").CombinedOutput()
	d := time.Since(t0)
	pstop()
	stop()
	if err != nil {
		fmt.Printf("rtt %-6v plan9port wrarena: %v %s\n", rtt, err, out)
	} else {
		r := mbps(used, d)
		fmt.Printf("rtt %-6v plan9port wrarena  %7.2f MB/s (ventiprog %.0fx)\n", rtt, r, ours/r)
	}
	// venti/copy from a venti serving that partition.
	s, err = arena.Open(ctx, []string{path}, arena.StoreOptions{})
	if err != nil {
		log.Fatal(err)
	}
	saddr, sstop := serve(s)
	defer func() { sstop(); s.Close() }()
	addr, stop = target()
	paddr, pstop = through(addr)
	t0 = time.Now()
	out, err = ventitest.Plan9portCmd(ctx, root9, "venti/copy", saddr, paddr, "vac:"+root.String()).CombinedOutput()
	d = time.Since(t0)
	pstop()
	stop()
	if err != nil {
		fmt.Printf("rtt %-6v plan9port venti/copy: %v %s\n", rtt, err, out)
	} else {
		r := mbps(int64(*p9mb)<<20, d)
		fmt.Printf("rtt %-6v plan9port venti/copy %5.2f MB/s (copy %.0fx)\n", rtt, r, oursCopy/r)
	}
}

func mbps(n int64, d time.Duration) float64 { return float64(n) / d.Seconds() / 1e6 }

func newStore(path string, mb int) *arena.Store {
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	f.Truncate(int64(mb)<<20*3/2 + 256<<20)
	f.Close()
	if _, err := arena.Format(path, arena.FormatOptions{ArenaSize: 512 << 20}); err != nil {
		log.Fatal(err)
	}
	s, err := arena.Open(context.Background(), []string{path}, arena.StoreOptions{})
	if err != nil {
		log.Fatal(err)
	}
	return s
}

func openParts(path string) ([]*arena.Partition, error) {
	p, err := arena.OpenPartition(path)
	if err != nil {
		return nil, err
	}
	return []*arena.Partition{p}, nil
}

func serve(s *arena.Store) (string, func()) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { (&venti.Server{Store: s}).Serve(ctx, l); close(done) }()
	return fmt.Sprintf("tcp!127.0.0.1!%d", l.Addr().(*net.TCPAddr).Port), func() { cancel(); <-done }
}
