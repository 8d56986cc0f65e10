package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"replfs/venti"
)

// defaultVenti is the address used when neither -h nor $venti is set.
const defaultVenti = "tcp!127.0.0.1!17034"

func runVenti(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usageText)
		return 1
	}
	switch args[0] {
	case "read":
		return ventiRead(ctx, e, args[1:])
	case "write":
		return ventiWrite(ctx, e, args[1:])
	case "sync":
		return ventiSync(ctx, e, args[1:])
	case "fmt":
		return ventiFmt(ctx, e, args[1:])
	case "serve":
		return ventiServe(ctx, e, args[1:])
	case "roots":
		return ventiRoots(ctx, e, args[1:])
	case "restore":
		return ventiRestore(ctx, e, args[1:])
	case "check":
		return ventiCheck(ctx, e, args[1:])
	}
	fmt.Fprintf(e.stderr, "replfs venti: unknown command %q\n", args[0])
	fmt.Fprint(e.stderr, usageText)
	return 1
}

// newFlags returns a silent flag set: parseFlags reports errors.
func newFlags(usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(usage, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseFlags parses args and reports a usage error as a status; ok is
// false when the command should return status.
func parseFlags(e *env, fs *flag.FlagSet, args []string, usage string) (ok bool, status int) {
	if err := fs.Parse(argv(fs, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(e.stderr, "usage: %s\n", usage)
			return false, 0
		}
		fmt.Fprintf(e.stderr, "%v\nusage: %s\n", err, usage)
		return false, 1
	}
	return true, 0
}

// argv rewrites args as Plan 9's ARGBEGIN reads them into the form the
// flag package parses: flags bundled in one argument (-AD, -nw), and a
// flag's value joined to it (-w64) or in the next argument (-w 64).
// Flags end at the first argument that is not one, or after "--".
func argv(fs *flag.FlagSet, args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || len(a) < 2 || a[0] != '-' || a[1] == '-' {
			return append(out, args[i:]...)
		}
		if strings.Contains(a, "=") || fs.Lookup(a[1:]) != nil && len(a) > 2 {
			out = append(out, a) // -name or -x=v: the flag package's own forms
			continue
		}
		for j := 1; j < len(a); j++ {
			f := fs.Lookup(a[j : j+1])
			if f == nil {
				out = append(out, "-"+a[j:]) // the flag package says what is wrong
				break
			}
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
				out = append(out, "-"+a[j:j+1])
				continue
			}
			out = append(out, "-"+a[j:j+1])
			if j+1 < len(a) {
				out = append(out, a[j+1:])
			} else if i+1 < len(args) {
				i++
				out = append(out, args[i])
			}
			break
		}
	}
	return out
}

func usageErr(e *env, usage string) int {
	fmt.Fprintf(e.stderr, "usage: %s\n", usage)
	return 1
}

// ventiAddr resolves -h: the flag, else $venti, else defaultVenti.
func ventiAddr(e *env, h string) string {
	if h != "" {
		return h
	}
	if v := e.getenv("venti"); v != "" {
		return v
	}
	return defaultVenti
}

func ventiRead(ctx context.Context, e *env, args []string) int {
	const usage = "replfs venti read [-h addr] [-t type] score"
	fs := newFlags(usage)
	h := fs.String("h", "", "venti address")
	t := fs.String("t", "", "block type")
	if ok, st := parseFlags(e, fs, args, usage); !ok {
		return st
	}
	if fs.NArg() != 1 {
		return usageErr(e, usage)
	}
	label, score, err := venti.ParseLabeledScore(fs.Arg(0))
	if err != nil {
		return fail(e, "venti read", err)
	}
	var types []venti.Type
	switch {
	case *t != "":
		typ, err := venti.ParseType(*t)
		if err != nil {
			return fail(e, "venti read", err)
		}
		types = []venti.Type{typ}
	case label == "vac":
		types = []venti.Type{venti.RootType}
	default:
		// As plan9port's venti/read: try every type, lowest first.
		for typ := venti.Type(0); typ < venti.MaxType; typ++ {
			types = append(types, typ)
		}
	}
	addr := ventiAddr(e, *h)
	c, err := venti.Dial(ctx, addr)
	if err != nil {
		return fail(e, "venti read", err)
	}
	defer c.Close()
	var data []byte
	for _, typ := range types {
		data, err = c.Read(ctx, score, typ, 65535)
		if err == nil {
			if len(types) > 1 {
				fmt.Fprintf(e.stderr, "replfs venti read -h %s -t %d %v\n", addr, typ, score)
			}
			break
		}
		if !venti.IsNotFound(err) {
			break
		}
	}
	if err != nil {
		return fail(e, "venti read", err)
	}
	if _, err := e.stdout.Write(data); err != nil {
		return fail(e, "venti read", err)
	}
	return 0
}

func ventiWrite(ctx context.Context, e *env, args []string) int {
	const usage = "replfs venti write [-h addr] [-t type] [-z] < data"
	fs := newFlags(usage)
	h := fs.String("h", "", "venti address")
	t := fs.String("t", "0", "block type")
	z := fs.Bool("z", false, "zero truncate")
	if ok, st := parseFlags(e, fs, args, usage); !ok {
		return st
	}
	if fs.NArg() != 0 {
		return usageErr(e, usage)
	}
	typ, err := venti.ParseType(*t)
	if err != nil {
		return fail(e, "venti write", err)
	}
	data, err := io.ReadAll(io.LimitReader(e.stdin, venti.MaxLumpSize+1))
	if err != nil {
		return fail(e, "venti write", err)
	}
	if len(data) > venti.MaxLumpSize {
		return fail(e, "venti write", fmt.Errorf("input too big: max block size is %d", venti.MaxLumpSize))
	}
	if *z {
		data = venti.ZeroTruncate(typ, data)
	}
	c, err := venti.Dial(ctx, ventiAddr(e, *h))
	if err != nil {
		return fail(e, "venti write", err)
	}
	defer c.Close()
	score, err := c.Write(ctx, typ, data)
	if err == nil {
		err = c.Sync(ctx)
	}
	if err != nil {
		return fail(e, "venti write", err)
	}
	fmt.Fprintf(e.stdout, "%v\n", score)
	return 0
}

func ventiSync(ctx context.Context, e *env, args []string) int {
	const usage = "replfs venti sync [-h addr]"
	fs := newFlags(usage)
	h := fs.String("h", "", "venti address")
	if ok, st := parseFlags(e, fs, args, usage); !ok {
		return st
	}
	if fs.NArg() != 0 {
		return usageErr(e, usage)
	}
	c, err := venti.Dial(ctx, ventiAddr(e, *h))
	if err != nil {
		return fail(e, "venti sync", err)
	}
	defer c.Close()
	if err := c.Sync(ctx); err != nil {
		return fail(e, "venti sync", err)
	}
	return 0
}
