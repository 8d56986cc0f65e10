// Fakefossil is a test double of plan9port's fossil: with -t it runs a
// console on its controlling terminal that echoes, prompts and answers
// like fossil's (Ccons.c), for the commands replfs sends. It serves no
// 9P. Its archiver is a pretence: if $FAKEFOSSIL_ARCHIVE holds a score,
// snap -a marks the superblock busy (next = active), and
// $FAKEFOSSIL_DELAY later (default 2s) writes that score as the last
// archive, clears next and current, and prints "archive vac:SCORE", as
// the real archiver does when it finishes. Every command it gets is
// appended to $FAKEFOSSIL_LOG.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	headerOffset = 128 << 10
	configOffset = 127 << 10
)

type fake struct {
	tty    *os.File
	mu     sync.Mutex // serializes writes to the console
	prompt string
	part   string
	halted bool
	log    *os.File
}

func main() {
	var cmds []string
	tflag := flag.Bool("t", false, "console on the terminal")
	fpart := flag.String("f", "", "partition whose config to run")
	flag.Func("c", "console command", func(s string) error { cmds = append(cmds, s); return nil })
	flag.Int("m", 0, "cache memory percentage (ignored)")
	flag.Parse()

	nullStdio()
	f := &fake{prompt: "prompt: "}
	if p := os.Getenv("FAKEFOSSIL_LOG"); p != "" {
		l, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0600)
		if err != nil {
			fmt.Fprintf(os.Stderr, "fakefossil: %v\n", err)
			os.Exit(1)
		}
		f.log = l
	}
	f.record("start " + strings.Join(os.Args[1:], " "))
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM, syscall.SIGHUP)
		s := <-c
		f.record("exit " + s.String())
		os.Exit(1)
	}()
	if *fpart != "" {
		lines, err := readConfig(*fpart)
		if err != nil {
			fmt.Fprintf(os.Stderr, "fakefossil: %v\n", err)
			os.Exit(1)
		}
		cmds = append(lines, cmds...)
	}
	for _, c := range cmds {
		if out := f.exec(c); out != "" {
			fmt.Fprintf(os.Stderr, "%s: %s", c, out)
		}
	}
	if !*tflag {
		select {}
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintf(os.Stderr, "consTTY: open /dev/tty: %v\n", err)
		os.Exit(1)
	}
	f.tty = tty
	f.write(f.prompt)
	r := bufio.NewReader(tty)
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			f.record("exit console: " + err.Error())
			os.Exit(1)
		}
		cmd := strings.TrimSuffix(l, "\n")
		f.record(cmd)
		out := cmd + "\n" // fossil echoes what it reads
		if cmd != "" {
			out += f.exec(cmd)
		}
		f.write(out + f.prompt)
	}
}

func (f *fake) record(s string) {
	if f.log != nil {
		fmt.Fprintln(f.log, s)
	}
}

func (f *fake) write(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tty.WriteString(s)
}

// exec runs a command and returns what fossil would print.
func (f *fake) exec(cmd string) string {
	w := strings.Fields(cmd)
	if len(w) >= 2 && w[0] == "fsys" {
		if len(w) == 2 {
			f.prompt = w[1] + ": "
			return ""
		}
		if w[1] == "main" {
			f.prompt = "main: "
		}
		w = w[2:]
	}
	if f.halted && w[0] != "unhalt" {
		return "\tmain is halted\n"
	}
	switch w[0] {
	case "config":
		if len(w) > 1 {
			f.part = w[1]
		}
	case "open", "snaptime", "srv", "listen", "venti":
	case "sync":
		return "\tmain sync: wrote 0 blocks\n"
	case "halt":
		f.halted = true
	case "unhalt":
		f.halted = false
	case "snap":
		return f.snap()
	default:
		return w[0] + ": unknown command\n"
	}
	return ""
}

// snap pretends to archive: see the package comment.
func (f *fake) snap() string {
	score := os.Getenv("FAKEFOSSIL_ARCHIVE")
	if score == "" || f.part == "" {
		return ""
	}
	raw, err := hex.DecodeString(strings.TrimPrefix(score, "vac:"))
	if err != nil || len(raw) != 20 {
		return "snap: bad $FAKEFOSSIL_ARCHIVE\n"
	}
	superOff, err := superOffset(f.part)
	if err != nil {
		return "snap: " + err.Error() + "\n"
	}
	p, err := os.OpenFile(f.part, os.O_RDWR, 0)
	if err != nil {
		return "snap: " + err.Error() + "\n"
	}
	// Superblock: active u32 @22, next @26, current @30, last [20] @34.
	b := make([]byte, 54)
	p.ReadAt(b, superOff)
	copy(b[26:30], b[22:26]) // next = active: an archive is waiting
	p.WriteAt(b[26:30], superOff+26)
	p.Sync()
	delay := 2 * time.Second
	if d, err := time.ParseDuration(os.Getenv("FAKEFOSSIL_DELAY")); err == nil {
		delay = d
	}
	go func() {
		defer p.Close()
		time.Sleep(delay)
		binary.BigEndian.PutUint32(b[26:30], ^uint32(0))
		binary.BigEndian.PutUint32(b[30:34], ^uint32(0))
		copy(b[34:54], raw)
		p.WriteAt(b[26:54], superOff+26)
		p.Sync()
		f.write("archive vac:" + hex.EncodeToString(raw) + "\n")
	}()
	return ""
}

func superOffset(part string) (int64, error) {
	p, err := os.Open(part)
	if err != nil {
		return 0, err
	}
	defer p.Close()
	h := make([]byte, 12)
	if _, err := p.ReadAt(h, headerOffset); err != nil {
		return 0, err
	}
	if binary.BigEndian.Uint32(h) != 0x3776ae89 {
		return 0, fmt.Errorf("%s: not a fossil", part)
	}
	return int64(binary.BigEndian.Uint16(h[6:])) * int64(binary.BigEndian.Uint32(h[8:])), nil
}

func readConfig(part string) ([]string, error) {
	p, err := os.Open(part)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	b := make([]byte, 1024)
	if _, err := p.ReadAt(b, configOffset); err != nil {
		return nil, err
	}
	text := string(b[:max(0, strings.IndexByte(string(b)+"\x00", 0))])
	lines := strings.Split(text, "\n")
	if lines[0] != "fossil config" {
		return nil, fmt.Errorf("%s: bad config block", part)
	}
	var out []string
	for _, l := range lines[1:] {
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		l = strings.TrimSpace(l)
		if l != "" {
			out = append(out, strings.ReplaceAll(l, "*", part))
		}
	}
	return out, nil
}
