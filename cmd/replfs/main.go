package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"replfs/ctl"
)

// env is what a command may read of its environment; tests supply their
// own.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("replfs: ")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	os.Exit(run(ctx, e, os.Args[1:]))
}

const commandsText = `usage: replfs [-AD] [-F fossil]... [-P peers] [-S size] [-V ventiaddr] [-a addr]... [-c conns] [-d statedir] [-h httpaddr] [-i idle] [-n name] [-s name]
       replfs id [-d statedir] [-n name]
       replfs 9p [-a addr | -s service] [-d statedir] [-P peers] read|write|ls|stat [service/]path | wait job
       replfs venti read [-h addr] [-t type] score
       replfs venti write [-h addr] [-t type] [-z] < data
       replfs venti sync [-h addr]
       replfs venti fmt [-y] [-a arenasize] [-b blocksize] [-n nameprefix] [-s size] partition
       replfs venti serve [-A] [-a addr] [-c conns] [-d statedir] [-h httpaddr] [-i idle] [-n saveevery] [-x indexfile] partition... | s3://bucket/prefix
       replfs venti roots [-l] [-h venti] partition...
       replfs venti check [-x indexfile] partition...
       replfs venti restore [-d statedir] [-l rootscor] s3://bucket/prefix partition
       replfs ventiprog [-n] [-w window] [-c conns] [-H srchttp] -p partition -d statedir target...
       replfs fossil last partition...
       replfs fossil flfmt [-y] [-b blocksize] [-h venti] [-l label] -v score partition
`

// usageText is the whole usage message: the commands, then the
// control messages, one line each, from ctl's table.
var usageText = commandsText + "control messages, written to ctl:\n" + verbLines()

func verbLines() string {
	var b strings.Builder
	for _, v := range ctl.Verbs {
		b.WriteString("       " + v.Usage + "\n")
	}
	return b.String()
}

// run runs the command line args and returns the exit status.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) > 0 && (args[0] == "-?" || args[0] == "-help" || args[0] == "--help") {
		fmt.Fprint(e.stderr, usageText)
		return 0
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return serve(ctx, e, args)
	}
	switch args[0] {
	case "9p":
		return ninep(ctx, e, args[1:])
	case "id":
		return id(ctx, e, args[1:])
	case "venti":
		return runVenti(ctx, e, args[1:])
	case "ventiprog":
		return ventiprog(ctx, e, args[1:])
	case "fossil":
		return runFossil(ctx, e, args[1:])
	}
	fmt.Fprintf(e.stderr, "replfs: unknown command %q\n", args[0])
	fmt.Fprint(e.stderr, usageText)
	return 1
}

// fail prints "replfs cmd: err" and returns exit status 1.
func fail(e *env, cmd string, err error) int {
	fmt.Fprintf(e.stderr, "replfs %s: %v\n", cmd, err)
	return 1
}
