//go:build unix

// S3 measures ventiprog to an object store: the same arenas sent to a
// fresh prefix on SeaweedFS (weed mini on loopback) and, as the
// baseline in the same run, to a fresh replfs venti, several runs each,
// alternating. MB/s is arena log bytes (what both carry) a second.
//
//	WEED=$(.ci/weed) go run ./bench/s3 [-mb 512] [-runs 3] [-dir /tmp]
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"time"

	"replfs/venti"
	"replfs/venti/arena"
	"replfs/venti/bucket"
	"replfs/venti/bucket/buckettest"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("bench/s3: ")
	mb := flag.Int("mb", 512, "MiB of 8 KiB blocks")
	runs := flag.Int("runs", 3, "runs of each")
	conns := flag.Int("c", 0, "objects in flight (0: bucket default)")
	tmp := flag.String("dir", os.TempDir(), "where to put partitions and the store")
	flag.Parse()
	bin := buckettest.Binary()
	if bin == "" {
		log.Fatal("no weed: set WEED (.ci/weed builds it)")
	}
	dir, err := os.MkdirTemp(*tmp, "s3-bench")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	nblocks := *mb << 20 / 8192
	src := partition(dir, "src.part", int64(*mb)<<20*5/4+64<<20, 128<<20)
	fill(src, nblocks)
	sp, err := arena.OpenPartition(src)
	if err != nil {
		log.Fatal(err)
	}
	var logBytes int64
	for _, a := range sp.Arenas {
		logBytes += int64(a.Mem.Used)
	}
	fmt.Printf("data: %d MiB, %d blocks of 8 KiB, %d MB of arena log, arenas of 128 MiB\n", *mb, nblocks, logBytes/1e6)

	w, err := buckettest.Launch(bin, dir)
	if err != nil {
		log.Fatal(err)
	}
	defer w.Stop()
	if err := w.CreateBucket("bench"); err != nil {
		log.Fatal(err)
	}
	os.Setenv("AWS_ACCESS_KEY_ID", buckettest.AccessKey)
	os.Setenv("AWS_SECRET_ACCESS_KEY", buckettest.SecretKey)

	for run := 1; run <= *runs; run++ {
		// Baseline: into a fresh replfs venti, as ventiprog sends.
		tgt := partition(dir, "tgt.part", int64(*mb)<<20*5/4+64<<20, 128<<20)
		store, err := arena.Open(ctx, []string{tgt}, arena.StoreOptions{})
		if err != nil {
			log.Fatal(err)
		}
		addr, stop := serve(store)
		p, err := venti.DialPool(ctx, addr, venti.PoolOptions{})
		if err != nil {
			log.Fatal(err)
		}
		start := time.Now()
		if _, _, err := arena.CopyArenas(ctx, []*arena.Partition{sp}, nil, p, arena.CopyOptions{}); err != nil {
			log.Fatal(err)
		}
		dv := time.Since(start)
		p.Close()
		stop()
		store.Close()
		os.Remove(tgt)

		cfg, err := bucket.ParseURL(w.URL("bench", fmt.Sprintf("run%d", run)))
		if err != nil {
			log.Fatal(err)
		}
		b, err := bucket.Open(cfg, "")
		if err != nil {
			log.Fatal(err)
		}
		start = time.Now()
		st, err := bucket.Upload(ctx, b, []*arena.Partition{sp}, bucket.UploadOptions{Parallel: *conns})
		if err != nil {
			log.Fatal(err)
		}
		ds := time.Since(start)
		fmt.Printf("run %d: ventiprog -> replfs venti %7.1f MB/s; -> s3://bench/run%d %7.1f MB/s (%d objects, %d MB); s3/venti %.2fx\n",
			run, mbps(logBytes, dv), run, mbps(logBytes, ds), st.Objects, st.Bytes/1e6, dv.Seconds()/ds.Seconds())
	}
}

func mbps(bytes int64, d time.Duration) float64 { return float64(bytes) / d.Seconds() / 1e6 }

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

func fill(part string, n int) {
	s, err := arena.Open(context.Background(), []string{part}, arena.StoreOptions{})
	if err != nil {
		log.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 1))
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
