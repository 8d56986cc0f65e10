package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"replfs/fossil"
	"replfs/venti"
	"replfs/venti/arena"
	"replfs/venti/bucket"
)

func ventiFmt(ctx context.Context, e *env, args []string) int {
	const usage = "replfs venti fmt [-y] [-a arenasize] [-b blocksize] [-n nameprefix] [-s size] partition"
	fs := newFlags(usage)
	asize := fs.String("a", "", "arena size (default 512m, 64m on a partition under 4g)")
	bsize := fs.String("b", "8k", "block size")
	prefix := fs.String("n", "arenas0", "arena name prefix")
	size := fs.String("s", "", "create the file sparse, this size")
	yes := fs.Bool("y", false, "format even a partition holding clumps")
	if ok, st := parseFlags(e, fs, args, usage); !ok {
		return st
	}
	if fs.NArg() != 1 {
		return usageErr(e, usage)
	}
	part := fs.Arg(0)
	if err := checkFormat(part, *yes); err != nil {
		return fail(e, "venti fmt", err)
	}
	var a int64
	var err1 error
	if *asize != "" {
		a, err1 = arena.ParseSize(*asize)
	}
	b, err2 := arena.ParseSize(*bsize)
	if err := errors.Join(err1, err2); err != nil {
		return fail(e, "venti fmt", err)
	}
	if *size != "" {
		n, err := arena.ParseSize(*size)
		if err != nil {
			return fail(e, "venti fmt", err)
		}
		f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0600)
		if err == nil {
			err = f.Truncate(n)
			f.Close()
		}
		if err != nil {
			return fail(e, "venti fmt", err)
		}
	}
	m, err := arena.Format(part, arena.FormatOptions{ArenaSize: a, BlockSize: int(b), NamePrefix: *prefix})
	if err != nil {
		return fail(e, "venti fmt", err)
	}
	fmt.Fprintf(e.stderr, "fmtarenas %s: %d arenas, %s to %s\n", part, len(m), m[0].Name, m[len(m)-1].Name)
	return 0
}

func ventiServe(ctx context.Context, e *env, args []string) int {
	const usage = "replfs venti serve [-A] [-a addr] [-c conns] [-d statedir] [-h httpaddr] [-i idle] [-n saveevery] [-x indexfile] partition... | s3://bucket/prefix"
	fs := newFlags(usage)
	public := fs.Bool("A", false, "allow non-loopback addresses")
	addr := fs.String("a", defaultVenti, "venti listen address")
	conns := fs.Int("c", defaultConns, "most connections served at once")
	haddr := fs.String("h", "", "http listen address")
	idle := fs.Duration("i", 0, "close connections idle this long (0: never)")
	statedir := fs.String("d", "", "state directory holding s3credentials")
	indexFile := fs.String("x", "", "the index file (default: the first partition's name with .index; none: in memory only)")
	saveEvery := fs.Int("n", 1<<20, "save the index once this many clumps are indexed in memory only")
	if ok, st := parseFlags(e, fs, args, usage); !ok {
		return st
	}
	if fs.NArg() == 0 {
		return usageErr(e, usage)
	}
	if err := checkLimits(*conns, *idle); err != nil {
		return fail(e, "venti serve", err)
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(e.stderr, "replfs venti: "+format+"\n", args...)
	}
	// Before the partitions are opened: a refused address fails fast.
	err := exposed(*addr, "venti", "venti", ventiRisk, *public, logf)
	if err == nil && *haddr != "" {
		err = exposed(*haddr, "http", "http", "read and sync the venti", *public, logf)
	}
	if err != nil {
		return fail(e, "venti serve", err)
	}
	srv := &venti.Server{Logf: logf, MaxConns: *conns, IdleTimeout: *idle}
	if bucket.IsURL(fs.Arg(0)) {
		if fs.NArg() != 1 {
			return usageErr(e, usage)
		}
		s, err := openBucketStore(ctx, e, fs.Arg(0), *statedir, logf)
		if err != nil {
			return fail(e, "venti serve", err)
		}
		defer s.Close()
		srv.ReadOnly = true
		return serveStore(ctx, e, srv, s, *addr, *haddr, logf)
	}
	if *saveEvery < 1 {
		return usageErr(e, usage)
	}
	store, err := arena.Open(ctx, fs.Args(), arena.StoreOptions{Logf: logf, IndexFile: indexPath(*indexFile, fs.Arg(0)), SaveEvery: *saveEvery})
	if err != nil {
		return fail(e, "venti serve", err)
	}
	status := serveStore(ctx, e, srv, store, *addr, *haddr, logf)
	if err := store.Close(); err != nil {
		logf("close: %v", err)
		status = 1
	}
	return status
}

// serveStore serves store with srv on the venti address and, if haddr
// is set, its pages over HTTP, until ctx is done.
func serveStore(ctx context.Context, e *env, srv *venti.Server, store venti.Store, addr, haddr string, logf func(string, ...any)) int {
	srv.Store = store
	l, err := listen(addr, "venti")
	if err != nil {
		return fail(e, "venti serve", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	if haddr != "" {
		hl, err := listen(haddr, "http")
		if err != nil {
			l.Close()
			return fail(e, "venti serve", err)
		}
		h, ok := store.(http.Handler)
		if !ok {
			l.Close()
			hl.Close()
			return fail(e, "venti serve", errors.New("no http pages for this store"))
		}
		hs := newHTTPServer(h)
		go func() {
			<-ctx.Done()
			hs.Close()
		}()
		go func() {
			if err := hs.Serve(limitListener(hl, srv.MaxConns)); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("http: %w", err)
			}
		}()
		logf("http on %s", dialString(hl.Addr()))
	}
	logf("serving venti on %s", dialString(l.Addr()))
	go func() { errc <- srv.Serve(ctx, l) }()
	select {
	case <-ctx.Done():
		cancel()
		<-errc
		return 0
	case err := <-errc:
		if err != nil {
			return fail(e, "venti serve", err)
		}
		return 0
	}
}

// listen announces a Plan 9 dial string.
func listen(addr, service string) (net.Listener, error) {
	network, a, err := venti.ParseDialString(addr, service)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen(network, a)
	if err != nil {
		return nil, fmt.Errorf("announce %s: %w", addr, err)
	}
	return l, nil
}

// openBucketStore opens the copy an s3:// URL names, read only, with
// credentials from the environment or statedir's s3credentials.
func openBucketStore(ctx context.Context, e *env, url, statedir string, logf func(string, ...any)) (*bucket.Store, error) {
	cfg, err := bucket.ParseURL(url)
	if err != nil {
		return nil, err
	}
	cred := ""
	if statedir != "" {
		cred = filepath.Join(statedir, bucket.CredFileName)
	}
	b, err := bucket.Open(cfg, cred)
	if err != nil {
		return nil, err
	}
	s, err := bucket.OpenStore(ctx, b, bucket.StoreOptions{Logf: logf})
	if err != nil {
		return nil, err
	}
	m := s.Manifest()
	var clumps int64
	for _, a := range m.Arenas {
		clumps += int64(a.Clumps)
	}
	logf("%s: %d arenas, %d clumps, read only", cfg, len(m.Arenas), clumps)
	return s, nil
}

func ventiRestore(ctx context.Context, e *env, args []string) int {
	const usage = "replfs venti restore [-d statedir] [-l rootscor] s3://bucket/prefix partition"
	fs := newFlags(usage)
	statedir := fs.String("d", "", "state directory holding s3credentials")
	logFile := fs.String("l", "", "write the root score log kept with the arenas here")
	if ok, st := parseFlags(e, fs, args, usage); !ok {
		return st
	}
	if fs.NArg() != 2 || !bucket.IsURL(fs.Arg(0)) {
		return usageErr(e, usage)
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(e.stderr, "replfs venti restore: "+format+"\n", args...)
	}
	s, err := openBucketStore(ctx, e, fs.Arg(0), *statedir, logf)
	if err != nil {
		return fail(e, "venti restore", err)
	}
	defer s.Close()
	st, err := bucket.Restore(ctx, s, fs.Arg(1))
	if err != nil {
		return fail(e, "venti restore", err)
	}
	if *logFile != "" {
		log, err := s.RootScor(ctx)
		if err == nil {
			err = writeNew(*logFile, log)
		}
		if err != nil {
			return fail(e, "venti restore", err)
		}
	}
	fmt.Fprintf(e.stdout, "%s: arenas %d clumps %d bytes %d\n", fs.Arg(1), st.Arenas, st.Clumps, st.Bytes)
	return 0
}

// writeNew writes a file that must not exist yet: a temporary file in
// the same directory, synced, then linked in under its name (which
// fails if one appeared meanwhile), so a crash never leaves half of it.
func writeNew(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp, path)
	}
	return err
}

// indexPath is the index file of a store: the one given, none, or by
// default beside the first partition (never inside it: partitions stay
// plan9port's format).
func indexPath(given, first string) string {
	switch given {
	case "none":
		return ""
	case "":
		return strings.TrimSuffix(first, "/") + ".index"
	}
	return given
}

func ventiCheck(ctx context.Context, e *env, args []string) int {
	const usage = "replfs venti check [-x indexfile] partition..."
	fs := newFlags(usage)
	indexFile := fs.String("x", "", "the index file (default: the first partition's name with .index)")
	if ok, st := parseFlags(e, fs, args, usage); !ok {
		return st
	}
	if fs.NArg() == 0 {
		return usageErr(e, usage)
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(e.stderr, "replfs venti check: "+format+"\n", args...)
	}
	for _, p := range fs.Args() {
		if err := fossil.NotHeld(p); err != nil {
			return fail(e, "venti check", err)
		}
	}
	s, err := arena.Open(ctx, fs.Args(), arena.StoreOptions{Logf: logf, IndexFile: indexPath(*indexFile, fs.Arg(0))})
	if err != nil {
		return fail(e, "venti check", err)
	}
	n, err := s.CheckIndex()
	cerr := s.Close()
	if err == nil {
		err = cerr
	}
	if err != nil {
		return fail(e, "venti check", err)
	}
	fmt.Fprintf(e.stdout, "index agrees with the arenas: %d clumps\n", n)
	return 0
}

// checkFormat refuses to format a partition another process has open
// (a running venti), or, unless yes, one whose arenas hold clumps.
func checkFormat(part string, yes bool) error {
	if _, err := os.Stat(part); err != nil {
		return nil // venti fmt -s makes it
	}
	if err := fossil.NotHeld(part); err != nil {
		return err
	}
	p, err := arena.OpenPartition(part)
	if err != nil {
		return nil // not an arena partition
	}
	defer p.Close()
	arenas, clumps := 0, int64(0)
	for _, a := range p.Arenas {
		if a.Mem.Clumps > 0 {
			arenas++
			clumps += int64(a.Mem.Clumps)
		}
	}
	if clumps > 0 && !yes {
		return fmt.Errorf("%s holds %d arena%s, %d clumps: use -y to destroy them", part, arenas, plural(int64(arenas)), clumps)
	}
	return nil
}
