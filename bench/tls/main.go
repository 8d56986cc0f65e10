//go:build !plan9

// Tls measures 9P over TLS against plain TCP, in one run, both served
// by one replfs file server in this process: reading a large /status
// (thousands of targets), driving a ventiprog remotely (ctl write, then
// polling its job's status until done), and connecting (dial,
// handshake, version, attach). Each is the best of -n trials.
//
//	go run ./bench/tls [-mb 64] [-targets 10000] [-n 5]
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"9fans.net/go/plan9"
	"9fans.net/go/plan9/client"

	"replfs/fs"
	"replfs/jobs"
	"replfs/peer"
	"replfs/venti"
	"replfs/venti/arena"
	"replfs/venti/ventitest"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("bench/tls: ")
	mb := flag.Int("mb", 64, "MiB of 8 KiB blocks ventiprog copies")
	ntargets := flag.Int("targets", 10000, "targets listed in /status")
	trials := flag.Int("n", 5, "trials; the best is shown")
	flag.Parse()
	dir, err := os.MkdirTemp("", "tls-bench")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The source: an arena store of random blocks, served as venti.
	part := filepath.Join(dir, "arenas")
	f, err := os.Create(part)
	if err != nil {
		log.Fatal(err)
	}
	f.Truncate(int64(*mb)<<20*5/4 + 64<<20)
	f.Close()
	if _, err := arena.Format(part, arena.FormatOptions{ArenaSize: 64 << 20}); err != nil {
		log.Fatal(err)
	}
	store, err := arena.Open(ctx, []string{part}, arena.StoreOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	fill(ctx, store, *mb<<20/8192)
	vaddr := serveVenti(ctx, store)

	// replfs: its engine and file server, on plain TCP and on TLS.
	state := filepath.Join(dir, "state")
	sid, err := peer.LoadIdentity(must(os.MkdirTemp(dir, "sid")), "server")
	if err != nil {
		log.Fatal(err)
	}
	cid, err := peer.NewIdentity("client")
	if err != nil {
		log.Fatal(err)
	}
	spc := &peer.Config{ID: sid, Peers: write(dir, "server.peers", cid.Name+" "+cid.FP.String()+" ctl\n")}
	eng, err := jobs.New(jobs.Options{StateDir: state, Peers: spc,
		Embedded: &jobs.Source{Addr: vaddr, Partitions: []string{part}, Flush: store.Sync}})
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close()
	srv := &fs.Server{Engine: eng, MayWrite: func(c net.Conn) bool {
		pc, ok := c.(*peer.Conn)
		return !ok || pc.Peer.Access == peer.Ctl
	}}
	tl := listen()
	go srv.Serve(ctx, tl)
	taddr := "tcp!" + strings.ReplaceAll(tl.Addr().String(), ":", "!")
	sl := listen()
	saddr := "tls!" + strings.ReplaceAll(sl.Addr().String(), ":", "!")
	go srv.Serve(ctx, peer.Listen(sl, spc, saddr, nil))
	cpc := &peer.Config{ID: cid, Peers: write(dir, "client.peers", sid.Name+" "+sid.FP.String()+" ctl "+saddr+"\n")}

	dial := func(addr string) *client.Fsys {
		var nc net.Conn
		var err error
		if peer.IsTLS(addr) {
			nc, err = cpc.Dial(ctx, addr)
		} else {
			nc, err = net.Dial("tcp", tl.Addr().String())
		}
		if err != nil {
			log.Fatal(err)
		}
		c, err := client.NewConn(nc)
		if err != nil {
			log.Fatal(err)
		}
		fsys, err := c.Attach(nil, "bench", "")
		if err != nil {
			log.Fatal(err)
		}
		return fsys
	}
	addrs := []string{taddr, saddr}
	names := map[string]string{taddr: "tcp", saddr: "tls"}
	ratio := func(what string, d map[string]time.Duration, bytes int64) {
		for _, a := range addrs {
			fmt.Printf("%-36s %s %10.3f ms", what, names[a], float64(d[a].Microseconds())/1000)
			if bytes > 0 {
				fmt.Printf(" %8.1f MB/s", float64(bytes)/d[a].Seconds()/1e6)
			}
			if a == saddr {
				fmt.Printf("  %.2fx tcp's time", float64(d[saddr])/float64(d[taddr]))
			}
			fmt.Println()
		}
	}

	// Connecting.
	conn := map[string]time.Duration{}
	for range *trials {
		for _, a := range addrs {
			start := time.Now()
			dial(a)
			conn[a] = best(conn[a], time.Since(start))
		}
	}
	ratio("connect (dial, handshake, attach)", conn, 0)

	// A large /status.
	fsys := map[string]*client.Fsys{taddr: dial(taddr), saddr: dial(saddr)}
	var b strings.Builder
	for i := range *ntargets {
		fmt.Fprintf(&b, "target t%d tcp!127.0.0.1!%d\n", i, 1+i%60000)
		if b.Len() > 60<<10 || i == *ntargets-1 { // a write is one 9P message
			ctlWrite(fsys[taddr], b.String())
			b.Reset()
		}
	}
	size := int64(len(readAll(fsys[taddr], "/status")))
	fmt.Printf("/status: %d bytes, %d targets\n", size, *ntargets)
	status := map[string]time.Duration{}
	for range *trials {
		for _, a := range addrs {
			start := time.Now()
			for range 10 {
				readAll(fsys[a], "/status")
			}
			status[a] = best(status[a], time.Since(start)/10)
		}
	}
	ratio("read /status (render and send)", status, size)
	// The same bytes again on an open fid, which renders once: the
	// transport alone.
	again := map[string]time.Duration{}
	buf := make([]byte, 64<<10)
	for _, a := range addrs {
		f, err := fsys[a].Open("/status", plan9.OREAD)
		if err != nil {
			log.Fatal(err)
		}
		for range *trials {
			start := time.Now()
			for range 10 {
				for off := int64(0); off < size; {
					n, err := f.ReadAt(buf, off)
					if n == 0 || (err != nil && err != io.EOF) {
						log.Fatalf("read /status at %d: %v", off, err)
					}
					off += int64(n)
				}
			}
			again[a] = best(again[a], time.Since(start)/10)
		}
		f.Close()
	}
	ratio("read /status on an open fid", again, size)

	// ventiprog driven remotely, into a fresh in-memory venti each time.
	prog := map[string]time.Duration{}
	for i := range *trials {
		for _, a := range addrs {
			name := fmt.Sprintf("b%s%d", names[a], i)
			ctlWrite(fsys[a], "target "+name+" "+serveVenti(ctx, ventitest.NewMemStore()))
			start := time.Now()
			id := ctlWrite(fsys[a], "ventiprog "+name)
			for {
				st := readAll(fsys[a], "/jobs/"+strconv.Itoa(id)+"/status")
				if strings.HasPrefix(st, "state done") {
					break
				}
				if strings.HasPrefix(st, "state failed") || strings.HasPrefix(st, "state cancelled") {
					log.Fatalf("ventiprog:\n%s", st)
				}
				time.Sleep(2 * time.Millisecond)
			}
			prog[a] = best(prog[a], time.Since(start))
		}
	}
	ratio(fmt.Sprintf("ventiprog of %d MiB, driven remotely", *mb), prog, int64(*mb)<<20)
}

func best(a, d time.Duration) time.Duration {
	if a == 0 || d < a {
		return d
	}
	return a
}

func must(s string, err error) string {
	if err != nil {
		log.Fatal(err)
	}
	return s
}

func write(dir, name, text string) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0600); err != nil {
		log.Fatal(err)
	}
	return p
}

func listen() net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	return l
}

// serveVenti serves store as venti on loopback.
func serveVenti(ctx context.Context, store venti.Store) string {
	l := listen()
	go (&venti.Server{Store: store}).Serve(ctx, l)
	return "tcp!127.0.0.1!" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// fill writes n distinct random 8 KiB blocks.
func fill(ctx context.Context, s *arena.Store, n int) {
	r := rand.New(rand.NewPCG(1, 1))
	b := make([]byte, 8192)
	for range n {
		for i := 0; i < len(b); i += 8 {
			binary.LittleEndian.PutUint64(b[i:], r.Uint64())
		}
		if _, err := s.Write(ctx, venti.DataType, b); err != nil {
			log.Fatal(err)
		}
	}
	if err := s.Sync(ctx); err != nil {
		log.Fatal(err)
	}
}

// ctlWrite writes text to /ctl and returns the first job it started.
func ctlWrite(fsys *client.Fsys, text string) int {
	f, err := fsys.Open("/ctl", plan9.ORDWR)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte(text)); err != nil {
		log.Fatalf("ctl %q: %v", text[:min(len(text), 40)], err)
	}
	b := make([]byte, 512)
	n, _ := f.ReadAt(b, 0)
	id, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(strings.SplitN(string(b[:n]), "\n", 2)[0], "job ")))
	return id
}

func readAll(fsys *client.Fsys, name string) string {
	f, err := fsys.Open(name, plan9.OREAD)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		log.Fatal(err)
	}
	return string(b)
}
