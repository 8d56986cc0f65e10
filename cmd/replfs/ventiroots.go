package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"replfs/ctl"
	"replfs/rootscor"
	"replfs/venti"
	"replfs/venti/arena"
)

// ventiRoots lists the root clumps of arena partitions, or with -l
// prints the newest root score log among them.
func ventiRoots(ctx context.Context, e *env, args []string) int {
	const usage = "replfs venti roots [-l] [-h venti] partition..."
	fs := newFlags(usage)
	l := fs.Bool("l", false, "print the newest root score log")
	h := fs.String("h", "", "venti to read the log's blocks from")
	if ok, st := parseFlags(e, fs, args, usage); !ok {
		return st
	}
	if fs.NArg() == 0 || (*h != "" && !*l) {
		return usageErr(e, usage)
	}
	var arenas []*arena.Arena
	for _, name := range fs.Args() {
		as, closer, err := openArenas(name)
		if err != nil {
			return fail(e, "venti roots", err)
		}
		defer closer()
		arenas = append(arenas, as...)
	}
	status := 0
	var (
		last  venti.Score
		where string // arena of the last log
	)
	for _, a := range arenas {
		err := a.WalkRoots(ctx, func(r *arena.RootClump) error {
			switch {
			case r.Err != nil:
				fmt.Fprintf(e.stderr, "replfs venti roots: %v\n", r.Err)
				status = 1
			case *l:
				if r.Root.Type == rootscor.RootType && r.Root.Name == rootscor.RootName {
					last, where = r.Score, r.Arena
				}
			default:
				fmt.Fprintf(e.stdout, "%v %s %s %s %s %d %v\n", r.Score, quoteField(r.Root.Name), quoteField(r.Root.Type),
					time.Unix(int64(r.Time), 0).UTC().Format(time.RFC3339), quoteField(r.Arena), r.Offset, r.Root.Prev)
			}
			return nil
		})
		if err != nil {
			if ctx.Err() != nil {
				return fail(e, "venti roots", err)
			}
			fmt.Fprintf(e.stderr, "replfs venti roots: %v\n", err)
			status = 1
		}
	}
	if !*l {
		return status
	}
	if where == "" {
		return fail(e, "venti roots", fmt.Errorf("no root score log in %s", strings.Join(fs.Args(), " ")))
	}
	var r venti.BlockReader = arena.NewReader(arenas, where)
	if *h != "" {
		c, err := venti.Dial(ctx, *h)
		if err != nil {
			return fail(e, "venti roots", err)
		}
		defer c.Close()
		r = c
	}
	b, err := rootscor.ReadLog(ctx, r, last)
	if err != nil {
		return fail(e, "venti roots", err)
	}
	if _, err := e.stdout.Write(b); err != nil {
		return fail(e, "venti roots", err)
	}
	return status
}

// openArenas opens name as an arena partition, or else as a single arena
// (an rdarena image, or a byte range of a partition), read only, as
// wrarena does, and returns its arenas and what closes them.
func openArenas(name string) ([]*arena.Arena, func(), error) {
	p, perr := arena.OpenPartition(name)
	if perr == nil {
		return p.Arenas, func() { p.Close() }, nil
	}
	a, aerr := arena.OpenArena(name, 0)
	if aerr == nil {
		return []*arena.Arena{a}, func() { a.Close() }, nil
	}
	if strings.HasPrefix(perr.Error(), "open ") {
		return nil, nil, perr // no such file, permission: the same for both
	}
	return nil, nil, fmt.Errorf("%v (nor an arena: %v)", perr, aerr)
}

// quoteField returns s as one field: quoted as rc does when it is empty
// or holds blanks or quotes, in C style (blanks as \x20) when it holds
// characters that do not print.
func quoteField(s string) string {
	for _, c := range s {
		if !unicode.IsPrint(c) || c == unicode.ReplacementChar {
			return strings.ReplaceAll(strconv.Quote(s), " ", `\x20`)
		}
	}
	return ctl.Quote(s)
}
