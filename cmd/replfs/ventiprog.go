package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"replfs/venti"
	"replfs/venti/arena"
	"replfs/venti/bucket"
)

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

var _ flag.Value = (*listFlag)(nil)

func ventiprog(ctx context.Context, e *env, args []string) int {
	const usage = "replfs ventiprog [-n] [-w window] [-c conns] [-H srchttp] -p partition -d statedir target..."
	fs := newFlags(usage)
	dry := fs.Bool("n", false, "dry run")
	window := fs.Int("w", 0, "writes in flight (0: sized to the path)")
	conns := fs.Int("c", 0, "connections to each target (0: as the window needs, up to 32)")
	srchttp := fs.String("H", "", "source venti http address, to flush it first")
	var parts listFlag
	fs.Var(&parts, "p", "source arena partition (repeatable)")
	statedir := fs.String("d", "", "state directory")
	if ok, st := parseFlags(e, fs, args, usage); !ok {
		return st
	}
	if fs.NArg() == 0 || len(parts) == 0 || *statedir == "" || *window < 0 || *conns < 0 || *conns > 64 {
		return usageErr(e, usage)
	}
	targets := fs.Args()
	for _, t := range targets {
		var err error
		if bucket.IsURL(t) {
			_, err = bucket.ParseURL(t)
		} else {
			err = venti.CheckDial(t, "venti")
		}
		if err != nil {
			return fail(e, "ventiprog", err)
		}
	}
	if *srchttp != "" {
		if err := flushSource(ctx, *srchttp); err != nil {
			return fail(e, "ventiprog", err)
		}
	}
	var src []*arena.Partition
	for _, name := range parts {
		p, err := arena.OpenPartition(name)
		if err != nil {
			return fail(e, "ventiprog", err)
		}
		defer p.Close()
		src = append(src, p)
	}
	dir := filepath.Join(*statedir, "ventiprog")
	if err := os.MkdirAll(dir, 0700); err != nil {
		return fail(e, "ventiprog", err)
	}
	var mu sync.Mutex // serializes stderr
	logf := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(e.stderr, "replfs ventiprog: "+format+"\n", args...)
		mu.Unlock()
	}
	lines := make([]string, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() {
			if bucket.IsURL(t) {
				lines[i], errs[i] = ventiprogBucket(ctx, src, *statedir, t, *conns, *dry, logf)
				return
			}
			lines[i], errs[i] = ventiprogTarget(ctx, src, filepath.Join(dir, cursorName(t)), t, *conns,
				arena.CopyOptions{Window: *window, DryRun: *dry,
					Logf: func(f string, a ...any) { logf("%s: "+f, append([]any{t}, a...)...) }})
		})
	}
	wg.Wait()
	status := 0
	for i, t := range targets {
		if lines[i] != "" {
			fmt.Fprintln(e.stdout, lines[i])
		}
		if errs[i] != nil {
			logf("%s: %v", t, errs[i])
			status = 1
		}
	}
	return status
}

// cursorName is the file holding a target's cursor: the dial string
// with '%' and '/' escaped, so tcp!backup!17034 stays readable.
func cursorName(target string) string {
	return strings.NewReplacer("%", "%25", "/", "%2F").Replace(target) + ".cursor"
}

// ventiprogTarget brings one target up to date and returns its summary
// line: "tcp!h!p: arenas N clumps N bytes N end arenasNN 0x...".
func ventiprogTarget(ctx context.Context, src []*arena.Partition, cursorFile, target string, conns int, opts arena.CopyOptions) (string, error) {
	cur, err := arena.LoadCursor(cursorFile)
	if err != nil {
		return "", err
	}
	var st arena.CopyStats
	var dst arena.Target = discard{}
	if !opts.DryRun {
		c, err := venti.DialPool(ctx, target, venti.PoolOptions{Window: opts.Window, Conns: conns, Fixed: conns > 0})
		if err != nil {
			return "", err // nothing sent: the error is the one line
		}
		defer c.Close()
		dst = c
		opts.Commit = func(c arena.Cursor) error { return arena.SaveCursor(cursorFile, c) }
	}
	next, st, err := arena.CopyArenas(ctx, src, cur, dst, opts)
	if opts.DryRun {
		return strings.Replace(summary(target, src, next, st), ": arenas", ": would send arenas", 1), err
	}
	if err != nil && st.Clumps == 0 && st.Corrupt == 0 {
		return "", err
	}
	if err == nil && st.Corrupt > 0 {
		// Corruption in the source is news: the exit status says it.
		err = fmt.Errorf("source corrupt: %d clump%s skipped, first %w", st.Corrupt, plural(st.Corrupt), st.FirstCorrupt)
	}
	return summary(target, src, next, st), err
}

func plural(n int64) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// summary formats a run's line. It ends with the arena in progress
// after the run and its offset, as the wrcmd line would name them.
func summary(target string, src []*arena.Partition, cur arena.Cursor, st arena.CopyStats) string {
	name, off := "-", int64(0)
	if _, a := arena.InProgress(src, cur); a != nil {
		name, off = a.Name, cur[a.Name].Offset
	}
	return fmt.Sprintf("%s: arenas %d clumps %d bytes %d end %s %#x", target, st.Arenas, st.Clumps, st.Bytes, name, off)
}

// discard is the target of a dry run: CopyArenas sends it nothing.
type discard struct{}

func (discard) Write(context.Context, venti.Type, []byte) (venti.Score, error) {
	return venti.Score{}, errors.New("dry run")
}
func (discard) Sync(context.Context) error { return nil }

// flushSource asks the source venti to write its caches (GET
// /flushdcache), so its arena directories are on disk.
func flushSource(ctx context.Context, addr string) error {
	u := addr
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		_, hp, err := venti.ParseDialString(addr, "http")
		if err != nil {
			return err
		}
		u = "http://" + hp
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(u, "/")+"/flushdcache", nil)
	if err != nil {
		return err
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("flush source: %w", err)
	}
	defer r.Body.Close()
	io.Copy(io.Discard, r.Body)
	if r.StatusCode != http.StatusOK {
		return fmt.Errorf("flush source: %s", r.Status)
	}
	return nil
}

// ventiprogBucket uploads the arenas an object store lacks; its
// manifest is the cursor.
func ventiprogBucket(ctx context.Context, src []*arena.Partition, statedir, target string, conns int, dry bool, logf func(string, ...any)) (string, error) {
	cfg, err := bucket.ParseURL(target)
	if err != nil {
		return "", err
	}
	b, err := bucket.Open(cfg, filepath.Join(statedir, bucket.CredFileName))
	if err != nil {
		return "", err
	}
	st, err := bucket.Upload(ctx, b, src, bucket.UploadOptions{DryRun: dry, Parallel: conns,
		Logf: func(f string, a ...any) { logf(f, a...) }})
	if err != nil && st.Objects == 0 {
		return "", err
	}
	verb := ""
	if dry {
		verb = "would send "
	}
	name := st.Arena
	if name == "" {
		name = "-"
	}
	return fmt.Sprintf("%s: %sarenas %d clumps %d bytes %d objects %d end %s %#x", cfg, verb, st.Arenas, st.Clumps, st.Bytes, st.Objects, name, st.Offset), err
}
