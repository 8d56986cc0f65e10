package test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"9fans.net/go/plan9"
	"9fans.net/go/plan9/client"

	"replfs/venti/ventitest"
)

// p9pRun runs a plan9port program with $PLAN9/bin on $PATH (its rc
// scripts need it) and returns its combined output.
func p9pRun(t *testing.T, root string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := ventitest.Plan9portCmd(ctx, root, name, args...)
	cmd.Env = append(cmd.Env, "PATH="+os.Getenv("PATH")+":"+filepath.Join(root, "bin"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestPlan9portFossil runs the fossil verbs against plan9port's own
// fossil, on our venti, and checks the results with plan9port's
// fossil/last and flchk: fossilstart on a partition with its own
// config, a file written over 9P, snap, fossilize, fosreset of a second
// partition, fossilstart of that one with the ANTS defaults, the file
// read back from it, foshalt. Opt-in: it needs $PLAN9.
func TestPlan9portFossil(t *testing.T) {
	root := ventitest.Plan9port(t)
	prog := filepath.Join(root, "bin", "fossil", "fossil")
	if _, err := os.Stat(prog); err != nil {
		t.Skipf("no %s", prog)
	}
	dir := t.TempDir()
	r := startReplfsEnv(t, filepath.Join(dir, "state"), "PLAN9="+root)
	fs := r.mount9(t)
	run := func(line string, n int) string {
		t.Helper()
		if err := write9(t, fs, "/ctl", line); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		st, _ := waitJob(t, func() string { return read9(t, fs, "/jobs/"+strconv.Itoa(n)+"/status") })
		if !strings.HasPrefix(st, "state done\n") {
			t.Fatalf("%s:\n%s\nfossil.log:\n%s", line, st, fossilLogs(dir))
		}
		return st
	}

	// Partition A: plan9port's flfmt, and a config that opens it without
	// permission checks and listens on loopback.
	apart := filepath.Join(dir, "a.part")
	os.WriteFile(apart, nil, 0600)
	os.Truncate(apart, 16<<20)
	if out, err := p9pRun(t, root, "fossil/flfmt", "-y", apart); err != nil {
		t.Fatalf("flfmt: %v\n%s", err, out)
	}
	aport, bport := freePort(t), freePort(t)
	conf := filepath.Join(dir, "a.conf")
	os.WriteFile(conf, []byte("fsys main config "+apart+"\nfsys main venti "+r.venti+
		"\nfsys main open -AWP\nfsys main\nlisten tcp!127.0.0.1!"+strconv.Itoa(aport)+"\n"), 0600)
	if out, err := p9pRun(t, root, "fossil/conf", "-w", apart, conf); err != nil {
		t.Fatalf("conf -w: %v\n%s", err, out)
	}
	run("fossil -f -p "+prog+" -l tcp!127.0.0.1!"+strconv.Itoa(bport)+" -n fs "+apart+"\nfossilstart", 1)

	const text = "written through 9P into plan9port's fossil\n"
	writeFossilFile(t, "tcp", "127.0.0.1:"+strconv.Itoa(aport), "/active/hello.txt", text)

	st := run("snap", 2)
	m := regexp.MustCompile(`(?m)^result vac:([0-9a-f]{40}) `).FindStringSubmatch(st)
	if m == nil {
		t.Fatalf("snap:\n%s", st)
	}
	score := m[1]
	t.Logf("snap: vac:%s", score)
	if out, err := p9pRun(t, root, "fossil/last", apart); err != nil || strings.TrimSpace(out) != "vac:"+score {
		t.Errorf("fossil/last %s: %q %v, want vac:%s", apart, out, err, score)
	}
	if st := run("fossilize", 3); !strings.Contains(st, "result vac:"+score+" "+apart+" "+r.venti+" fs ") {
		t.Errorf("fossilize:\n%s", st)
	}

	// Partition B: re-rooted on that archive, checked by plan9port.
	bpart := filepath.Join(dir, "b.part")
	os.WriteFile(bpart, nil, 0600)
	os.Truncate(bpart, 8<<20)
	if out, err := p9pRun(t, root, "fossil/flfmt", "-y", bpart); err != nil {
		t.Fatalf("flfmt: %v\n%s", err, out)
	}
	run("fosreset vac:"+score+" "+bpart, 4)
	if out, err := p9pRun(t, root, "fossil/last", bpart); err != nil || strings.TrimSpace(out) != "vac:da39a3ee5e6b4b0d3255bfef95601890afd80709" {
		t.Errorf("fossil/last %s: %q %v", bpart, out, err)
	}
	out, err := p9pRun(t, root, "fossil/flchk", "-h", r.venti, "-f", bpart)
	if err != nil || !strings.Contains(out, " lost=0(0.0%)") {
		t.Errorf("flchk %s: %v\n%s", bpart, err, out)
	}
	t.Logf("flchk -f %s:\n%s", bpart, out)

	// B started with the ANTS defaults serves the archived file, over
	// its srv -A service (its network listener wants authentication).
	run("fossilstart "+bpart+" bfossil", 5)
	if got := read9(t, attachFossil(t, "unix", filepath.Join(r.ns, "bfossil")), "/active/hello.txt"); got != text {
		t.Errorf("B's /active/hello.txt %q", got)
	}
	if st := run("foshalt", 6); !strings.Contains(st, "result fossil on "+apart+" halted") {
		t.Errorf("foshalt:\n%s", st)
	}
	if err := r.stop(t); err != nil {
		t.Errorf("replfs: %v", err)
	}
	// Stopping replfs halted and ended the fossil it still ran (B).
	for _, p := range []string{apart, bpart} {
		if pids := holdersOf(p); len(pids) > 0 {
			t.Errorf("%s still held by %v after replfs stopped", p, pids)
		}
	}
}

func fossilLogs(dir string) string {
	var b strings.Builder
	files, _ := filepath.Glob(filepath.Join(dir, "state", "fossil", "*", "fossil.log"))
	for _, f := range files {
		d, _ := os.ReadFile(f)
		b.Write(d)
	}
	return b.String()
}

// attachFossil attaches to fossil's main file system; its listener
// comes up as fossil starts.
func attachFossil(t *testing.T, network, addr string) *client.Fsys {
	t.Helper()
	return attach9(t, network, addr, "main", 50)
}

func writeFossilFile(t *testing.T, network, addr, name, text string) {
	t.Helper()
	fs := attachFossil(t, network, addr)
	f, err := fs.Create(name, plan9.OWRITE, 0664)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	if _, err := f.Write([]byte(text)); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// holdersOf lists the processes with path open (Linux /proc).
func holdersOf(path string) []string {
	want, err := os.Stat(path)
	if err != nil {
		return nil
	}
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		fds, err := os.ReadDir("/proc/" + e.Name() + "/fd")
		if err != nil || e.Name() == strconv.Itoa(os.Getpid()) {
			continue
		}
		for _, fd := range fds {
			if st, err := os.Stat("/proc/" + e.Name() + "/fd/" + fd.Name()); err == nil && os.SameFile(st, want) {
				out = append(out, e.Name())
			}
		}
	}
	return out
}
