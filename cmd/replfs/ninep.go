//go:build !plan9

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"9fans.net/go/plan9"
	"9fans.net/go/plan9/client"

	"replfs/peer"
	"replfs/venti"
)

const ninepUsage = "replfs 9p [-a addr | -s service] [-d statedir] [-P peers] read|write|ls|stat [service/]path | wait job"

// ninep is a small 9P client with the verbs of plan9port's 9p(1), so
// replfs can be driven from scripts without Plan 9 tools.
func ninep(ctx context.Context, e *env, args []string) int {
	fl := newFlags(ninepUsage)
	addr := fl.String("a", "", "server address (default: the posted replfs)")
	service := fl.String("s", "", "the name the server posted (replfs -s), in $NAMESPACE")
	stateDir := fl.String("d", "", "state directory whose identity dials tls! addresses")
	peers := fl.String("P", "", "allow list pinning tls! servers (default: peers in the state directory)")
	if ok, st := parseFlags(e, fl, args, ninepUsage); !ok {
		return st
	}
	if fl.NArg() != 2 {
		return usageErr(e, ninepUsage)
	}
	verb, path := fl.Arg(0), fl.Arg(1)
	if *addr != "" && *service != "" {
		return usageErr(e, ninepUsage)
	}
	// plan9port's 9p names a posted service as the path's first element:
	// 9p read replfs/ctl.
	if *addr == "" && *service == "" && verb != "wait" && !strings.HasPrefix(path, "/") {
		srv, rest, _ := strings.Cut(path, "/")
		*service, path = srv, "/"+rest
	}
	if *service == "" {
		*service = "replfs"
	}
	if verb == "wait" {
		if _, err := strconv.Atoi(path); err != nil {
			return usageErr(e, ninepUsage)
		}
		path = "/jobs/" + path + "/wait"
	}
	var c *client.Conn
	var err error
	switch {
	case *addr == "":
		if strings.ContainsAny(*service, "/") || *service == "." || *service == ".." {
			return fail(e, "9p", fmt.Errorf("bad service name %q", *service))
		}
		ns := client.Namespace()
		if err := checkNamespace(ns); err != nil {
			return fail(e, "9p", err)
		}
		c, err = client.Dial("unix", filepath.Join(ns, *service))
	case peer.IsTLS(*addr):
		c, err = dialTLS(ctx, e, *stateDir, *peers, *addr)
	default:
		network, hp, perr := venti.ParseDialString(*addr, "5640")
		if perr != nil {
			return fail(e, "9p", perr)
		}
		c, err = client.Dial(network, hp)
	}
	if err != nil {
		return fail(e, "9p", err)
	}
	defer c.Close()
	// A signal (ctx) ends the command, as it ends cat: closing the
	// connection ends a read that waits on /log or a job.
	var interrupted atomic.Bool
	stop := context.AfterFunc(ctx, func() { interrupted.Store(true); c.Close() })
	defer stop()
	user := e.getenv("USER")
	if user == "" {
		user = "none"
	}
	fsys, err := c.Attach(nil, user, "")
	if err != nil {
		return fail(e, "9p", err)
	}
	st := ninepVerb(e, fsys, verb, path)
	if interrupted.Load() {
		return 1
	}
	return st
}

// ninepVerb runs one verb of replfs 9p.
func ninepVerb(e *env, fsys *client.Fsys, verb, path string) int {
	switch verb {
	case "wait":
		// The job's final status; the exit status says how it ended.
		var out bytes.Buffer
		if st := readFile(e, fsys, path, &out); st != 0 {
			return st
		}
		e.stdout.Write(out.Bytes())
		if !strings.HasPrefix(out.String(), "state done\n") {
			return 1
		}
		return 0
	case "read":
		return readFile(e, fsys, path, e.stdout)
	case "write":
		// /ctl opened ORDWR reads back the jobs a write started, as
		// /net's clone file does: they are printed, "job n" each.
		// A server that will not open it so is written without.
		ctl := path == "/ctl"
		var f *client.Fid
		var err error
		if ctl {
			if f, err = fsys.Open(path, plan9.ORDWR); err != nil {
				ctl = false
			}
		}
		if !ctl {
			f, err = fsys.Open(path, plan9.OWRITE)
		}
		if err != nil {
			return fail(e, "9p", err)
		}
		defer f.Close()
		data, err := io.ReadAll(e.stdin)
		if err != nil {
			return fail(e, "9p", err)
		}
		if err := writeLines(f, data); err != nil {
			return fail(e, "9p", err)
		}
		if ctl {
			// The writes are done; a server that cannot read back
			// (not replfs) just prints nothing.
			if b, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<20)); err == nil {
				e.stdout.Write(b)
			}
		}
		return 0
	case "ls":
		d, err := fsys.Stat(path)
		if err != nil {
			return fail(e, "9p", err)
		}
		if d.Mode&plan9.DMDIR == 0 {
			fmt.Fprintln(e.stdout, d.Name)
			return 0
		}
		f, err := fsys.Open(path, plan9.OREAD)
		if err != nil {
			return fail(e, "9p", err)
		}
		defer f.Close()
		dirs, err := f.Dirreadall()
		if err != nil {
			return fail(e, "9p", err)
		}
		for _, d := range dirs {
			fmt.Fprintln(e.stdout, d.Name)
		}
		return 0
	case "stat":
		d, err := fsys.Stat(path)
		if err != nil {
			return fail(e, "9p", err)
		}
		fmt.Fprintln(e.stdout, strings.TrimSpace(d.String()))
		return 0
	}
	return usageErr(e, ninepUsage)
}

// readFile copies a file to w until its end.
func readFile(e *env, fsys *client.Fsys, path string, w io.Writer) int {
	f, err := fsys.Open(path, plan9.OREAD)
	if err != nil {
		return fail(e, "9p", err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return fail(e, "9p", werr)
			}
		}
		if err == io.EOF || (err == nil && n == 0) {
			return 0
		}
		if err != nil {
			return fail(e, "9p", err)
		}
	}
}

// dialTLS dials a pinned peer with the state directory's identity.
func dialTLS(ctx context.Context, e *env, stateDir, peers, addr string) (*client.Conn, error) {
	dir, err := stateDirOf(e, stateDir)
	if err != nil {
		return nil, err
	}
	pc, err := peerConfig(dir, "", peers)
	if err != nil {
		return nil, err
	}
	nc, err := pc.Dial(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	c, err := client.NewConn(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// maxWrite is the most data writeLines puts in one write: Plan 9's
// IOUNIT, which every 9P server's msize carries.
const maxWrite = 8192

// writeLines writes data to f as echo > file would, but in writes of
// whole lines of at most maxWrite bytes: a control file applies each
// write whole, so no message may be cut across two writes, and a write
// the client split at msize would do just that. A line longer than
// maxWrite is refused before anything is sent.
func writeLines(f io.Writer, data []byte) error {
	var chunks [][]byte
	start, end := 0, 0 // data[start:end] is the chunk being built
	for n := 1; end < len(data); n++ {
		i := bytes.IndexByte(data[end:], '\n')
		next := len(data)
		if i >= 0 {
			next = end + i + 1
		}
		if next-end > maxWrite {
			return fmt.Errorf("line %d longer than %d bytes", n, maxWrite)
		}
		if next-start > maxWrite {
			chunks = append(chunks, data[start:end])
			start = end
		}
		end = next
	}
	chunks = append(chunks, data[start:end]) // one write even of nothing
	for _, c := range chunks {
		if _, err := f.Write(c); err != nil {
			return fmt.Errorf("write error: %w", err)
		}
	}
	return nil
}
