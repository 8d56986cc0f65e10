package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"9fans.net/go/plan9/client"

	"replfs/fs"
	"replfs/jobs"
	"replfs/peer"
	"replfs/venti"
	"replfs/venti/arena"
	"replfs/web"
)

const serverUsage = "replfs [-AD] [-F fossil]... [-P peers] [-S size] [-V ventiaddr] [-a addr]... [-c conns] [-d statedir] [-h httpaddr] [-i idle] [-n name] [-s name]"

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
	public := fl.Bool("A", false, "allow plain 9P and venti on non-loopback addresses")
	peers := fl.String("P", "", "allow list of peers (default: peers in the state directory)")
	name := fl.String("n", "", "name of a new identity (default: the host's name)")
	debug := fl.Bool("D", false, "trace 9P")
	conns := fl.Int("c", defaultConns, "most connections served at once on each listener")
	idle := fl.Duration("i", 0, "close embedded venti connections idle this long (0: never)")
	httpAddr := fl.String("h", "", "HTTP address of the status pages and metrics")
	// A bad flag gets the whole usage, control messages too, as a Plan 9
	// command prints its usage.
	if err := fl.Parse(argv(fl, args)); err != nil || fl.NArg() != 0 {
		if err != nil {
			fmt.Fprintf(e.stderr, "replfs: %v\n", err)
		}
		fmt.Fprint(e.stderr, usageText)
		return 1
	}
	if err := checkLimits(*conns, *idle); err != nil {
		return fail(e, "serve", err)
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
	// The embedded venti, unless a source is configured; its address is
	// checked before anything is made or opened.
	configured, err := jobs.ConfiguredSource(*stateDir)
	if err != nil {
		return fail(e, "serve", err)
	}
	if !configured {
		if err := exposed(*ventiAddr, "venti", "venti", ventiRisk, *public, logf); err != nil {
			return fail(e, "serve", fmt.Errorf("embedded venti: %w", err))
		}
	}
	for _, a := range addrs {
		if peer.IsTLS(a) {
			continue
		}
		if err := exposed(a, "5640", "plain 9P", "write ctl", *public, logf); err != nil {
			return fail(e, "serve", err)
		}
	}
	if *httpAddr != "" {
		if err := exposed(*httpAddr, "http", "the status pages", "read every status file and log", *public, logf); err != nil {
			return fail(e, "serve", err)
		}
	}
	pc, err := peerConfig(*stateDir, *name, *peers)
	if err != nil {
		return fail(e, "serve", err)
	}
	logf("identity %s %s", pc.ID.Name, pc.ID.FP)

	// The 9P listeners first: a bad address fails before anything starts.
	var ls []net.Listener
	closeAll := func() {
		for _, l := range ls {
			l.Close()
		}
	}
	for _, a := range addrs {
		if peer.IsTLS(a) {
			l, err := listenTLS(a, pc, logf)
			if err != nil {
				closeAll()
				return fail(e, "serve", err)
			}
			ls = append(ls, l)
			continue
		}
		network, hp, _ := venti.ParseDialString(a, "5640")
		l, err := net.Listen(network, hp)
		if err != nil {
			closeAll()
			return fail(e, "serve", fmt.Errorf("announce %s: %w", a, err))
		}
		ls = append(ls, l)
	}

	var (
		embedded *jobs.Source
		store    *arena.Store
		wg       sync.WaitGroup
	)
	// A listener that fails for good stops the server: it must not run
	// on with its ctl unreachable.
	ctx, cancel := context.WithCancel(ctx)
	lostc := make(chan error, 1)
	lost := func(err error) {
		select {
		case lostc <- err:
		default:
		}
		cancel()
	}
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
		srv := &venti.Server{Store: store, Logf: logf, MaxConns: *conns, IdleTimeout: *idle}
		wg.Go(func() {
			if err := srv.Serve(ctx, vl); err != nil {
				lost(fmt.Errorf("embedded venti: %w", err))
			}
		})
		embedded = &jobs.Source{Addr: *ventiAddr, Partitions: []string{part}, Flush: store.Sync}
		logf("venti on %s, arenas %s", *ventiAddr, part)
	}

	// $REPLFS_PAUSE, for crash tests, stops a job for good at that
	// point (see jobs.Options.Pause), saying so, to be killed there.
	var pause func(string)
	if at := e.getenv("REPLFS_PAUSE"); at != "" {
		pause = func(point string) {
			if point == at {
				logf("paused at %s", point)
				select {}
			}
		}
	}
	// $REPLFS_SAMPLE, for tests, samples the targets' lag more often
	// than every 10 s.
	var sampleEvery time.Duration
	if v := e.getenv("REPLFS_SAMPLE"); v != "" {
		if sampleEvery, err = time.ParseDuration(v); err != nil || sampleEvery < 100*time.Millisecond {
			closeAll()
			return fail(e, "serve", fmt.Errorf("bad $REPLFS_SAMPLE %q", v))
		}
	}
	eng, err := jobs.New(jobs.Options{Pause: pause, SampleEvery: sampleEvery, StateDir: *stateDir, Embedded: embedded, Fossils: progs, Logf: logf, Peers: pc,
		Sysname: sysname(e), User: e.getenv("USER"), Consoles: runtime.GOOS == "plan9"})
	if err != nil {
		closeAll()
		return fail(e, "serve", err)
	}
	defer eng.Close()
	if *httpAddr != "" {
		hl, err := listen(*httpAddr, "http")
		if err != nil {
			closeAll()
			return fail(e, "serve", err)
		}
		ws := &web.Server{Engine: webEngine{eng}}
		if store != nil {
			ws.Venti = func() web.VentiStats {
				st := store.Stats()
				return web.VentiStats{Clumps: st.Clumps, CClumps: st.CClumps, Bytes: int64(st.Uncsize), StoredBytes: int64(st.Used),
					Reads: st.Reads, Writes: st.Writes, Arenas: int64(st.Arenas), SealedArena: int64(st.Sealed)}
			}
		}
		hs := newHTTPServer(ws)
		go func() { <-ctx.Done(); hs.Close() }()
		go hs.Serve(limitListener(hl, *conns))
		logf("http on %s", dialString(hl.Addr()))
	}
	fsrv := &fs.Server{Engine: eng, Logf: logf, MayWrite: mayWrite, MaxConns: *conns}
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
		wg.Go(func() {
			if err := fsrv.Serve(ctx, l); err != nil {
				lost(fmt.Errorf("9P on %s: %w", dialString(l.Addr()), err))
			}
		})
		logf("serving 9P on %s", dialString(l.Addr()))
	}
	<-ctx.Done()
	logf("shutting down")
	select {
	case err := <-lostc:
		return fail(e, "serve", err)
	default:
	}
	return 0
}

// sysname is the name of this system, as root scores record it:
// $sysname (Plan 9), else the host name.
func sysname(e *env) string {
	if s := e.getenv("sysname"); s != "" {
		return s
	}
	h, _ := os.Hostname()
	return h
}

// defaultConns is -c's default: the connections each listener serves
// at once.
const defaultConns = 1000

// checkLimits checks -c and -i.
func checkLimits(conns int, idle time.Duration) error {
	if conns < 1 {
		return fmt.Errorf("bad -c %d: want at least 1", conns)
	}
	if idle < 0 {
		return fmt.Errorf("bad -i %v: want 0 (never) or more", idle)
	}
	return nil
}

// ventiRisk is what anyone who reaches a venti listener can do.
const ventiRisk = "read and write the venti"

// exposed checks the listen address addr of a service (what, for the
// warning): one not on loopback needs -A (allow), since anyone who
// reaches it can do risk; with -A it is logged.
func exposed(addr, defService, what, risk string, allow bool, logf func(string, ...any)) error {
	network, hp, err := venti.ParseDialString(addr, defService)
	if err != nil {
		return err
	}
	if network == "unix" || loopback(hp) {
		return nil
	}
	if !allow {
		or := ""
		if what == "plain 9P" {
			or = "serve tls! to admit pinned peers only, or "
		}
		return fmt.Errorf("%s is not a loopback address: anyone who reaches it can %s; %sgive -A to allow it", addr, risk, or)
	}
	logf("warning: serving %s on %s; anyone who reaches it can %s", what, addr, risk)
	return nil
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
// mode 0700, where 9p -a and 9pfuse look. A directory another user
// could write is refused (checkNamespace). A stale socket is replaced;
// a live one is an error.
func postUnix(name string) (net.Listener, string, error) {
	dir := client.Namespace()
	if err := os.MkdirAll(dir, 0700); err != nil {
		return nil, "", err
	}
	if err := checkNamespace(dir); err != nil {
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
		m, err := arena.Format(part, arena.FormatOptions{})
		if err != nil {
			os.Remove(part)
			return nil, err
		}
		logf("formatted %s: %s in arenas of %d MiB", part, strings.ToUpper(size), (m[0].Stop-m[0].Start)>>20)
	}
	return arena.Open(ctx, []string{part}, arena.StoreOptions{Logf: logf, IndexFile: part + ".index"})
}

// dialString writes a listener's address as Plan 9 does: tcp!host!port,
// unix!path.
func dialString(a net.Addr) string {
	if host, port, err := net.SplitHostPort(a.String()); err == nil {
		return a.Network() + "!" + host + "!" + port
	}
	return a.Network() + "!" + a.String()
}

// webEngine gives the status pages the engine's history as theirs.
type webEngine struct{ *jobs.Engine }

func (w webEngine) History(name string, since time.Time) []web.Sample {
	var out []web.Sample
	for _, s := range w.Engine.History(name, since) {
		out = append(out, web.Sample{Time: s.Time, LagBytes: s.LagBytes, LagClumps: s.LagClumps, LagData: s.LagData, Rate: s.Rate})
	}
	return out
}

// newHTTPServer is an HTTP server for a read-only handler that bounds
// how long a client may hold a connection.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
}

// limitListener accepts at most n connections at once: a flood waits
// in the kernel's queue instead of holding replfs's memory.
func limitListener(l net.Listener, n int) net.Listener {
	if n <= 0 {
		n = defaultConns
	}
	return &limited{Listener: l, sem: make(chan struct{}, n)}
}

type limited struct {
	net.Listener
	sem chan struct{}
}

func (l *limited) Accept() (net.Conn, error) {
	l.sem <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.sem }}, nil
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
