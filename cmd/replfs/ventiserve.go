package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"

	"replfs/venti"
	"replfs/venti/arena"
)

func ventiFmt(ctx context.Context, e *env, args []string) int {
	const usage = "replfs venti fmt [-a arenasize] [-b blocksize] [-n nameprefix] [-s size] partition"
	fs := newFlags(usage)
	asize := fs.String("a", "512m", "arena size")
	bsize := fs.String("b", "8k", "block size")
	prefix := fs.String("n", "arenas0", "arena name prefix")
	size := fs.String("s", "", "create the file sparse, this size")
	if ok, st := parseFlags(e, fs, args, usage); !ok {
		return st
	}
	if fs.NArg() != 1 {
		return usageErr(e, usage)
	}
	part := fs.Arg(0)
	a, err1 := arena.ParseSize(*asize)
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
	const usage = "replfs venti serve [-A] [-a addr] [-c conns] [-h httpaddr] [-i idle] partition..."
	fs := newFlags(usage)
	public := fs.Bool("A", false, "allow non-loopback addresses")
	addr := fs.String("a", defaultVenti, "venti listen address")
	conns := fs.Int("c", defaultConns, "most connections served at once")
	haddr := fs.String("h", "", "http listen address")
	idle := fs.Duration("i", 0, "close connections idle this long (0: never)")
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
	store, err := arena.Open(ctx, fs.Args(), arena.StoreOptions{Logf: logf})
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
func serveStore(ctx context.Context, e *env, srv *venti.Server, store *arena.Store, addr, haddr string, logf func(string, ...any)) int {
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
		hs := &http.Server{Handler: store, ReadHeaderTimeout: venti.DefaultHelloTimeout}
		go func() {
			<-ctx.Done()
			hs.Close()
		}()
		go func() {
			if err := hs.Serve(hl); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("http: %w", err)
			}
		}()
		logf("http on %s", hl.Addr())
	}
	logf("serving %s on %s", addr, l.Addr())
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
