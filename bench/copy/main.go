// Copy measures tree copies: replfs's CopyTree between two of our
// ventis over loopback with 1 and -w blocks in flight, and, when $PLAN9
// names a plan9port install, into plan9port venti beside plan9port's
// venti/copy, printing each as a ratio.
//
//	go run ./bench/copy [-mb 64] [-w 256]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"time"

	"replfs/venti"
	"replfs/venti/arena"
	"replfs/venti/ventitest"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("bench/copy: ")
	mb := flag.Int("mb", 64, "MiB of file data in the tree")
	tmp := flag.String("dir", os.TempDir(), "where to put partitions")
	window := flag.Int("w", 256, "blocks in flight for the windowed copies")
	flag.Parse()
	dir, err := os.MkdirTemp(*tmp, "copy-bench")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	n := 0
	newVenti := func() (string, func()) {
		n++
		p := filepath.Join(dir, fmt.Sprintf("v%d.part", n))
		f, _ := os.Create(p)
		f.Truncate(int64(*mb)<<20*2 + 256<<20)
		f.Close()
		if _, err := arena.Format(p, arena.FormatOptions{ArenaSize: 128 << 20}); err != nil {
			log.Fatal(err)
		}
		s, err := arena.Open(ctx, []string{p}, arena.StoreOptions{})
		if err != nil {
			log.Fatal(err)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { (&venti.Server{Store: s}).Serve(sctx, l); close(done) }()
		return fmt.Sprintf("tcp!127.0.0.1!%d", l.Addr().(*net.TCPAddr).Port), func() { cancel(); <-done; s.Close() }
	}
	srcAddr, stopSrc := newVenti()
	defer stopSrc()
	src := dial(srcAddr)
	root, err := ventitest.MakeTree(ctx, src, *mb, 1<<20, 42)
	if err != nil {
		log.Fatal(err)
	}
	src.Sync(ctx)
	bytes := int64(*mb) << 20
	fmt.Printf("tree: vac:%v, %d files of 1 MiB\n", root, *mb)

	ours := func(window int) time.Duration {
		dstAddr, stop := newVenti()
		defer stop()
		return copyTime(srcAddr, dstAddr, root, window)
	}
	d1 := best(3, func() time.Duration { return ours(1) })
	d64 := best(3, func() time.Duration { return ours(*window) })
	fmt.Printf("%-46s %8.1f MB/s\n", "copy -> our venti, 1 in flight", mbps(bytes, d1))
	fmt.Printf("%-46s %8.1f MB/s  %.1fx window 1\n", fmt.Sprintf("copy -> our venti, %d in flight", *window), mbps(bytes, d64), float64(d1)/float64(d64))

	root9 := os.Getenv("PLAN9")
	if root9 == "" {
		fmt.Println("plan9port: $PLAN9 not set, skipped")
		return
	}
	p9 := func(name string) (*ventitest.Plan9portVenti, func()) {
		d := filepath.Join(dir, name)
		os.Mkdir(d, 0755)
		v, err := ventitest.LaunchPlan9portVenti(root9, d, "", fmt.Sprintf("%dM", *mb*2+256), "128M")
		if err != nil {
			log.Fatal(err)
		}
		return v, func() { v.Stop(); os.RemoveAll(d) }
	}
	k := 0
	ourP9 := best(3, func() time.Duration {
		k++
		v, stop := p9(fmt.Sprintf("o%d", k))
		defer stop()
		return copyTime(srcAddr, v.Addr, root, *window)
	})
	theirP9 := best(3, func() time.Duration {
		k++
		v, stop := p9(fmt.Sprintf("t%d", k))
		defer stop()
		return ventiCopy(root9, srcAddr, v.Addr, root)
	})
	theirOurs := best(3, func() time.Duration {
		dstAddr, stop := newVenti()
		defer stop()
		return ventiCopy(root9, srcAddr, dstAddr, root)
	})
	fmt.Printf("%-46s %8.1f MB/s\n", "plan9port venti/copy -> plan9port venti", mbps(bytes, theirP9))
	fmt.Printf("%-46s %8.1f MB/s  %.1fx venti/copy\n", fmt.Sprintf("copy -> plan9port venti, %d in flight", *window), mbps(bytes, ourP9), float64(theirP9)/float64(ourP9))
	fmt.Printf("%-46s %8.1f MB/s\n", "plan9port venti/copy -> our venti", mbps(bytes, theirOurs))
	fmt.Printf("%-46s %8.1f MB/s  %.1fx venti/copy\n", fmt.Sprintf("copy -> our venti, %d in flight", *window), mbps(bytes, d64), float64(theirOurs)/float64(d64))
}

func mbps(n int64, d time.Duration) float64 { return float64(n) / d.Seconds() / 1e6 }

func best(n int, f func() time.Duration) time.Duration {
	b := f()
	for range n - 1 {
		b = min(b, f())
	}
	return b
}

func dial(addr string) *venti.Conn {
	c, err := venti.Dial(context.Background(), addr)
	if err != nil {
		log.Fatal(err)
	}
	return c
}

func copyTime(src, dst string, root venti.Score, window int) time.Duration {
	ctx := context.Background()
	s, d := dial(src), dial(dst)
	defer s.Close()
	defer d.Close()
	start := time.Now()
	if _, err := venti.CopyTree(ctx, s, d, root, venti.TreeOptions{Window: window}); err != nil {
		log.Fatal(err)
	}
	if err := d.Sync(ctx); err != nil {
		log.Fatal(err)
	}
	return time.Since(start)
}

func ventiCopy(root9, src, dst string, root venti.Score) time.Duration {
	start := time.Now()
	out, err := ventitest.Plan9portCmd(context.Background(), root9, "venti/copy", src, dst, "vac:"+root.String()).CombinedOutput()
	if err != nil {
		log.Fatalf("venti/copy: %v\n%s", err, out)
	}
	return time.Since(start)
}
