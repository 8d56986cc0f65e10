package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"9fans.net/go/plan9/client"

	"replfs/fs"
	"replfs/jobs"
	"replfs/venti"
	"replfs/venti/arena"
)

const serverUsage = "replfs [-A] [-D] [-F fossil]... [-S size] [-V ventiaddr] [-a addr]... [-d statedir] [-s name]"

// serve runs the file server until ctx is done.
func serve(ctx context.Context, e *env, args []string) int {
	fl := newFlags(serverUsage)
	var addrs, fossils listFlag
	fl.Var(&addrs, "a", "9P listen address (repeatable)")
	fl.Var(&fossils, "F", "fossil program fossilstart may run (repeatable; default $PLAN9/bin/fossil/fossil)")
	stateDir := fl.String("d", "", "state directory")
	post := fl.String("s", "replfs", "post name")
	ventiAddr := fl.String("V", ventiAddr(e, ""), "embedded venti address")
	size := fl.String("S", "1g", "size of the embedded venti's arena partition")
	public := fl.Bool("A", false, "allow 9P on non-loopback addresses")
	debug := fl.Bool("D", false, "trace 9P")
	if ok, st := parseFlags(e, fl, args, serverUsage); !ok {
		return st
	}
	if fl.NArg() != 0 {
		return usageErr(e, serverUsage)
	}
	progs, err := fossilPrograms(e, fossils)
	if err != nil {
		return fail(e, "serve", err)
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(e.stderr, "replfs: "+format+"\n", args...)
	}
	if *stateDir == "" {
		home := e.getenv("HOME")
		if home == "" {
			return fail(e, "serve", errors.New("no -d and $HOME not set"))
		}
		*stateDir = filepath.Join(home, "lib", "replfs")
	}
	if err := os.MkdirAll(*stateDir, 0700); err != nil {
		return fail(e, "serve", err)
	}

	// The 9P listeners first: a bad address fails before anything starts.
	var ls []net.Listener
	closeAll := func() {
		for _, l := range ls {
			l.Close()
		}
	}
	for _, a := range addrs {
		network, hp, err := venti.ParseDialString(a, "5640")
		if err != nil {
			closeAll()
			return fail(e, "serve", err)
		}
		if network != "unix" && !loopback(hp) {
			if !*public {
				closeAll()
				return fail(e, "serve", fmt.Errorf("%s is not a loopback address: anyone who reaches it can write ctl; give -A to allow it", a))
			}
			logf("warning: serving 9P on %s; anyone who reaches it can write ctl", a)
		}
		l, err := net.Listen(network, hp)
		if err != nil {
			closeAll()
			return fail(e, "serve", fmt.Errorf("announce %s: %w", a, err))
		}
		ls = append(ls, l)
	}

	// The embedded venti, unless a source is configured.
	configured, err := jobs.ConfiguredSource(*stateDir)
	if err != nil {
		closeAll()
		return fail(e, "serve", err)
	}
	var (
		embedded *jobs.Source
		store    *arena.Store
		wg       sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		wg.Wait()
		if store != nil {
			if err := store.Close(); err != nil {
				logf("close venti: %v", err)
			}
		}
	}()
	if !configured {
		part := filepath.Join(*stateDir, "arenas")
		store, err = openEmbedded(ctx, part, *size, logf)
		if err != nil {
			closeAll()
			return fail(e, "serve", err)
		}
		vl, err := listen(*ventiAddr, "venti")
		if err != nil {
			closeAll()
			return fail(e, "serve", fmt.Errorf("embedded venti: %w", err))
		}
		srv := &venti.Server{Store: store, Logf: logf}
		wg.Go(func() { srv.Serve(ctx, vl) })
		embedded = &jobs.Source{Addr: *ventiAddr, Partitions: []string{part}, Flush: store.Sync}
		logf("venti on %s, arenas %s", *ventiAddr, part)
	}

	eng, err := jobs.New(jobs.Options{StateDir: *stateDir, Embedded: embedded, Fossils: progs, Logf: logf})
	if err != nil {
		closeAll()
		return fail(e, "serve", err)
	}
	defer eng.Close()
	fsrv := &fs.Server{Engine: eng, Logf: logf}
	if *debug {
		fsrv.Trace = e.stderr
	}

	// The posted name: /srv on Plan 9, a unix socket in the name space
	// directory elsewhere.
	if *post != "" {
		if err := fsrv.Post(ctx, *post); err == nil {
			logf("posted /srv/%s", *post)
		} else {
			l, path, err := postUnix(*post)
			if err != nil {
				closeAll()
				return fail(e, "serve", err)
			}
			defer os.Remove(path)
			ls = append(ls, l)
		}
	}
	for _, l := range ls {
		wg.Go(func() { fsrv.Serve(ctx, l) })
		logf("serving 9P on %s!%s", l.Addr().Network(), l.Addr())
	}
	<-ctx.Done()
	logf("shutting down")
	return 0
}

// loopback reports whether host:port is on a loopback address.
func loopback(hp string) bool {
	h, _, err := net.SplitHostPort(hp)
	if err != nil {
		return false
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// postUnix listens on a unix socket named name in the plan9port name
// space directory ($NAMESPACE, else /tmp/ns.$USER.$DISPLAY), made with
// mode 0700, where 9p -a and 9pfuse look. A stale socket is replaced; a
// live one is an error.
func postUnix(name string) (net.Listener, string, error) {
	dir := client.Namespace()
	if err := os.MkdirAll(dir, 0700); err != nil {
		return nil, "", err
	}
	if err := os.Chmod(dir, 0700); err != nil {
		return nil, "", err
	}
	path := filepath.Join(dir, name)
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, "", fmt.Errorf("post %s: already posted by a running server", path)
	}
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, "", fmt.Errorf("post %s: %w", path, err)
	}
	return l, path, nil
}

// openEmbedded opens the embedded venti's partition, making it (sparse)
// and formatting it on first start.
func openEmbedded(ctx context.Context, part, size string, logf func(string, ...any)) (*arena.Store, error) {
	if _, err := os.Stat(part); os.IsNotExist(err) {
		n, err := arena.ParseSize(size)
		if err != nil {
			return nil, err
		}
		f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0600)
		if err != nil {
			return nil, err
		}
		err = f.Truncate(n)
		f.Close()
		if err != nil {
			return nil, err
		}
		asize := int64(512 << 20)
		if n < 4<<30 {
			asize = 64 << 20
		}
		if _, err := arena.Format(part, arena.FormatOptions{ArenaSize: asize}); err != nil {
			os.Remove(part)
			return nil, err
		}
		logf("formatted %s: %s in arenas of %d MiB", part, strings.ToUpper(size), asize>>20)
	}
	return arena.Open(ctx, []string{part}, arena.StoreOptions{Logf: logf})
}
