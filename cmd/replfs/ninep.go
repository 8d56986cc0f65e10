//go:build !plan9

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"9fans.net/go/plan9"
	"9fans.net/go/plan9/client"

	"replfs/peer"
	"replfs/venti"
)

const ninepUsage = "replfs 9p [-a addr] [-d statedir] [-P peers] read|write|ls|stat path"

// ninep is a small 9P client with the verbs of plan9port's 9p(1), so
// replfs can be driven from scripts without Plan 9 tools.
func ninep(ctx context.Context, e *env, args []string) int {
	fl := newFlags(ninepUsage)
	addr := fl.String("a", "", "server address (default: the posted replfs)")
	stateDir := fl.String("d", "", "state directory whose identity dials tls! addresses")
	peers := fl.String("P", "", "allow list pinning tls! servers (default: peers in the state directory)")
	if ok, st := parseFlags(e, fl, args, ninepUsage); !ok {
		return st
	}
	if fl.NArg() != 2 {
		return usageErr(e, ninepUsage)
	}
	verb, path := fl.Arg(0), fl.Arg(1)
	var c *client.Conn
	var err error
	switch {
	case *addr == "":
		ns := client.Namespace()
		if err := checkNamespace(ns); err != nil {
			return fail(e, "9p", err)
		}
		c, err = client.Dial("unix", filepath.Join(ns, "replfs"))
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
	user := e.getenv("USER")
	if user == "" {
		user = "none"
	}
	fsys, err := c.Attach(nil, user, "")
	if err != nil {
		return fail(e, "9p", err)
	}
	switch verb {
	case "read":
		f, err := fsys.Open(path, plan9.OREAD)
		if err != nil {
			return fail(e, "9p", err)
		}
		defer f.Close()
		buf := make([]byte, 64<<10)
		for {
			n, err := f.Read(buf)
			if n > 0 {
				if _, werr := e.stdout.Write(buf[:n]); werr != nil {
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
	case "write":
		f, err := fsys.Open(path, plan9.OWRITE)
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
