package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"replfs/peer"
)

const idUsage = "replfs id [-d statedir] [-n name]"

// id prints the name and fingerprint of the identity in the state
// directory, making the identity if there is none yet: what a peer's
// administrator pins.
func id(ctx context.Context, e *env, args []string) int {
	fl := newFlags(idUsage)
	stateDir := fl.String("d", "", "state directory")
	name := fl.String("n", "", "name of a new identity (default: the host's name)")
	if ok, st := parseFlags(e, fl, args, idUsage); !ok {
		return st
	}
	if fl.NArg() != 0 {
		return usageErr(e, idUsage)
	}
	dir, err := stateDirOf(e, *stateDir)
	if err != nil {
		return fail(e, "id", err)
	}
	i, err := loadID(dir, *name)
	if err != nil {
		return fail(e, "id", err)
	}
	fmt.Fprintln(e.stdout, i.Name, i.FP)
	return 0
}

// stateDirOf returns the state directory: dir, else $HOME/lib/replfs.
func stateDirOf(e *env, dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	home := e.getenv("HOME")
	if home == "" {
		return "", errors.New("no -d and $HOME not set")
	}
	return filepath.Join(home, "lib", "replfs"), nil
}

// loadID loads the identity in dir (made 0700 if need be), making one
// named name, or the host's name, on first use.
func loadID(dir, name string) (*peer.Identity, error) {
	if err := os.MkdirAll(dir, 0700); err != nil {
		return nil, err
	}
	if name == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, err
		}
		name, _, _ = strings.Cut(h, ".")
		if !peer.ValidName(name) {
			name = "replfs"
		}
	}
	return peer.LoadIdentity(dir, name)
}

// written are the files and directories of a state directory that
// replfs writes itself, some at ctl's request: never an allow list.
var written = []string{"config", "rootscor", peer.IDFile, "arenas", "targets", "jobs", "fossil"}

// peersFile returns the allow list's path: file (relative to the state
// directory), else peers there. A file given must exist, and must not
// be one replfs writes.
func peersFile(dir, file string) (string, error) {
	given := file != ""
	if !given {
		file = "peers"
	}
	if !filepath.IsAbs(file) {
		file = filepath.Join(dir, file)
	}
	if rel, err := filepath.Rel(dir, file); err == nil {
		first, _, _ := strings.Cut(filepath.ToSlash(rel), "/")
		for _, w := range written {
			if first == w {
				return "", fmt.Errorf("peers file %s: replfs writes it itself", file)
			}
		}
	}
	if given {
		if _, err := os.Stat(file); err != nil {
			return "", err
		}
	}
	return file, nil
}

// peerConfig is the identity and allow list of the state directory.
func peerConfig(dir, name, file string) (*peer.Config, error) {
	i, err := loadID(dir, name)
	if err != nil {
		return nil, err
	}
	path, err := peersFile(dir, file)
	if err != nil {
		return nil, err
	}
	c := &peer.Config{ID: i, Peers: path}
	if _, err := c.List(); err != nil {
		return nil, err
	}
	return c, nil
}

// mayWrite is fs's MayWrite: only a peer pinned read-only may not.
func mayWrite(c net.Conn) bool {
	pc, ok := c.(*peer.Conn)
	return !ok || pc.Peer.Access == peer.Ctl
}

// listenTLS announces a tls! address: pinned peers only, no -A needed.
func listenTLS(addr string, pc *peer.Config, logf func(string, ...any)) (net.Listener, error) {
	hp, err := peer.TCPAddr(addr)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", hp)
	if err != nil {
		return nil, fmt.Errorf("announce %s: %w", addr, err)
	}
	return peer.Listen(l, pc, addr, logf), nil
}
