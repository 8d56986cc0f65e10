//go:build linux

// Ventiopen measures what opening replfs's venti store costs at size:
// the time and resident memory of Open for stores of 1M and 10M clumps
// (small synthetic blocks), with the index rebuilt in memory from every
// arena directory (as before the index file) and with the index file.
// Each open runs in a fresh process, three times; RSS is the process's
// VmRSS once open.
//
//	go run ./bench/ventiopen [-clumps 1000000,10000000] [-dir /tmp]
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"replfs/venti"
	"replfs/venti/arena"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("bench/ventiopen: ")
	counts := flag.String("clumps", "1000000,10000000", "store sizes in clumps")
	tmp := flag.String("dir", os.TempDir(), "where to put partitions")
	open := flag.String("open", "", "internal: open this partition and report")
	index := flag.String("index", "", "internal: the index file, or none")
	flag.Parse()
	if *open != "" {
		report(*open, *index)
		return
	}
	for _, c := range strings.Split(*counts, ",") {
		n, err := strconv.Atoi(c)
		if err != nil {
			log.Fatal(err)
		}
		dir, err := os.MkdirTemp(*tmp, "ventiopen")
		if err != nil {
			log.Fatal(err)
		}
		part := build(dir, n)
		for _, mode := range []string{"none", part + ".index"} {
			name := "in memory, rebuilt"
			if mode != "none" {
				name = "index file"
			}
			for run := 1; run <= 3; run++ {
				out, err := exec.Command(os.Args[0], "-open", part, "-index", mode).CombinedOutput()
				if err != nil {
					log.Fatalf("%v\n%s", err, out)
				}
				fmt.Printf("%9d clumps, %-18s run %d: %s", n, name, run, out)
			}
		}
		os.RemoveAll(dir)
	}
}

// build writes n distinct 64-byte blocks into a new partition and
// closes the store, which saves its index file.
func build(dir string, n int) string {
	part := filepath.Join(dir, "arenas.part")
	size := int64(n)*(64+arena.ClumpSize+arena.ClumpInfoSize)*11/10 + 64<<20
	f, err := os.Create(part)
	if err != nil {
		log.Fatal(err)
	}
	f.Truncate(size)
	f.Close()
	if _, err := arena.Format(part, arena.FormatOptions{ArenaSize: 512 << 20}); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	s, err := arena.Open(ctx, []string{part}, arena.StoreOptions{NoCompress: true, IndexFile: part + ".index", SaveEvery: 1 << 30})
	if err != nil {
		log.Fatal(err)
	}
	start := time.Now()
	b := make([]byte, 64)
	for i := range n {
		binary.BigEndian.PutUint64(b, uint64(i))
		binary.BigEndian.PutUint64(b[8:], uint64(i)*0x9e3779b97f4a7c15)
		if _, err := s.Write(ctx, venti.DataType, b); err != nil {
			log.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		log.Fatal(err)
	}
	st, _ := os.Stat(part + ".index")
	fmt.Printf("%9d clumps written in %v; index file %d MB\n", n, time.Since(start).Round(time.Millisecond), st.Size()>>20)
	return part
}

func report(part, index string) {
	if index == "none" {
		index = ""
	}
	start := time.Now()
	s, err := arena.Open(context.Background(), []string{part}, arena.StoreOptions{IndexFile: index})
	if err != nil {
		log.Fatal(err)
	}
	d := time.Since(start)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss := vmRSS()
	// A lookup of something absent and of something present, to show
	// the store answers.
	b := make([]byte, 64)
	binary.BigEndian.PutUint64(b[8:], 0)
	if _, err := s.Read(context.Background(), venti.Sum(b), venti.DataType, 100); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("open %8v  rss %5d MB  heap %5d MB\n", d.Round(time.Millisecond), rss>>20, ms.HeapInuse>>20)
	os.Exit(0) // no Close: nothing to save, and Close would save
}

func vmRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
