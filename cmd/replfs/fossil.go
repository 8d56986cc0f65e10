package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"replfs/fossil"
	"replfs/venti"
)

func runFossil(ctx context.Context, e *env, args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "last":
			return fossilLast(ctx, e, args[1:])
		case "flfmt":
			return fossilFlfmt(ctx, e, args[1:])
		}
		fmt.Fprintf(e.stderr, "replfs fossil: unknown command %q\n", args[0])
	}
	fmt.Fprint(e.stderr, usageText)
	return 1
}

// fossilLast prints the last archive's score of each partition, as
// fossil/last does.
func fossilLast(ctx context.Context, e *env, args []string) int {
	const usage = "replfs fossil last partition..."
	fs := newFlags(usage)
	if ok, st := parseFlags(e, fs, args, usage); !ok {
		return st
	}
	if fs.NArg() == 0 {
		return usageErr(e, usage)
	}
	for _, p := range fs.Args() {
		s, err := fossil.Last(p)
		if err != nil {
			return fail(e, "fossil last", err)
		}
		fmt.Fprintf(e.stdout, "vac:%v\n", s)
	}
	return 0
}

// fossilFlfmt re-roots a partition on an archive, as flfmt -v does.
func fossilFlfmt(ctx context.Context, e *env, args []string) int {
	const usage = "replfs fossil flfmt [-y] [-b blocksize] [-h venti] [-l label] -v score partition"
	fs := newFlags(usage)
	y := fs.Bool("y", false, "format even if the partition has a fossil")
	b := fs.Int("b", 8192, "block size")
	h := fs.String("h", "", "venti address")
	l := fs.String("l", "", "label")
	v := fs.String("v", "", "archive score")
	if ok, st := parseFlags(e, fs, args, usage); !ok {
		return st
	}
	if fs.NArg() != 1 || *v == "" {
		return usageErr(e, usage)
	}
	score, err := venti.ParseScore(*v)
	if err != nil {
		return fail(e, "fossil flfmt", err)
	}
	if _, err := os.Stat(fs.Arg(0)); err == nil {
		if err := fossil.NotHeld(fs.Arg(0)); err != nil {
			return fail(e, "fossil flfmt", err)
		}
	}
	c, err := venti.Dial(ctx, ventiAddr(e, *h))
	if err != nil {
		return fail(e, "fossil flfmt", err)
	}
	defer c.Close()
	err = fossil.FormatV(ctx, fs.Arg(0), c, score, fossil.FormatOptions{BlockSize: *b, Label: *l, Force: *y})
	if errors.Is(err, fossil.ErrInUse) {
		err = fmt.Errorf("%s holds a fossil: use -y to destroy it", fs.Arg(0))
	}
	if err != nil {
		return fail(e, "fossil flfmt", err)
	}
	return 0
}

// fossilPrograms returns the fossil programs fossilstart may run: those
// given with -F, made absolute, else the default
// ($PLAN9/bin/fossil/fossil; on Plan 9 /bin/fossil/fossil), if there is
// one. Only these: ctl's fossil -p chooses among them.
func fossilPrograms(e *env, given []string) ([]string, error) {
	if len(given) == 0 {
		if p := fossil.DefaultProgram(e.getenv); p != "" {
			given = []string{p}
		}
	}
	var progs []string
	for _, p := range given {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("-F %s: %w", p, err)
		}
		progs = append(progs, abs)
	}
	return progs, nil
}
