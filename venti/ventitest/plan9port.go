package ventitest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Plan9port returns the plan9port install root named by $PLAN9 and
// skips the test when it is unset, lacks the venti programs, or the
// test runs with -short. Tests against the real plan9port are opt-in.
func Plan9port(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("plan9port tests skipped in -short mode")
	}
	root := os.Getenv("PLAN9")
	if root == "" {
		t.Skip("$PLAN9 not set: plan9port tests skipped")
	}
	if _, err := os.Stat(filepath.Join(root, "bin", "venti", "venti")); err != nil {
		t.Skipf("$PLAN9=%s has no bin/venti/venti: plan9port tests skipped", root)
	}
	return root
}

// Plan9portCmd returns a command running $PLAN9/bin/name with PLAN9 in
// its environment.
func Plan9portCmd(ctx context.Context, root, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(root, "bin", name), args...)
	cmd.Env = append(os.Environ(), "PLAN9="+root)
	return cmd
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// A Plan9portVenti is a real plan9port venti started for a test.
type Plan9portVenti struct {
	Addr     string // venti dial string
	HTTPAddr string // host:port of its HTTP server
	Dir      string // holds venti.conf and the partitions
	Conf     string
}

// StartPlan9portVenti formats arena (arenaSize, in arenas of arenaEach),
// index and bloom partitions in a temporary directory, starts plan9port
// venti on them on loopback ports, and kills it when the test ends.
// plan9port venti has no clean shutdown; flush it over HTTP first if a
// test needs its files.
func StartPlan9portVenti(t testing.TB, root string, arenaSize, arenaEach string) *Plan9portVenti {
	t.Helper()
	return startPlan9portVenti(t, root, "", arenaSize, arenaEach)
}

// StartPlan9portVentiOn starts plan9port venti on an existing arena
// partition, with a new index (fmtisect, fmtbloom, fmtindex) in a
// temporary directory. venti indexes the clumps its diskstats do not
// count as it starts.
func StartPlan9portVentiOn(t testing.TB, root, arenas string) *Plan9portVenti {
	t.Helper()
	return startPlan9portVenti(t, root, arenas, "", "")
}

func startPlan9portVenti(t testing.TB, root, arenas, arenaSize, arenaEach string) *Plan9portVenti {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	run := func(name string, args ...string) {
		t.Helper()
		out, err := Plan9portCmd(ctx, root, name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	part := func(name, size string) string {
		p := filepath.Join(dir, name)
		if out, err := exec.Command("truncate", "-s", size, p).CombinedOutput(); err != nil {
			t.Fatalf("truncate %s: %v %s", p, err, out)
		}
		return p
	}
	if arenas == "" {
		arenas = part("arenas.part", arenaSize)
		run("venti/fmtarenas", "-a", arenaEach, "arenas0", arenas)
	}
	isect := part("isect.part", "32M")
	bloom := part("bloom.part", "1M")
	run("venti/fmtisect", "isect0", isect)
	run("venti/fmtbloom", bloom)
	conf := filepath.Join(dir, "venti.conf")
	text := fmt.Sprintf("index main\narenas %s\nisect %s\nbloom %s\nmem 32M\nbcmem 32M\nicmem 32M\n", arenas, isect, bloom)
	if err := os.WriteFile(conf, []byte(text), 0644); err != nil {
		t.Fatal(err)
	}
	run("venti/fmtindex", conf)
	v := &Plan9portVenti{Dir: dir, Conf: conf}
	port, hport := FreePort(t), FreePort(t)
	v.Addr = "tcp!127.0.0.1!" + strconv.Itoa(port)
	v.HTTPAddr = "127.0.0.1:" + strconv.Itoa(hport)
	// venti puts itself in the background, keeping its output open: give
	// it a file, not a pipe we would wait on. The conf path, unique to this
	// test, finds it again.
	logf, err := os.Create(filepath.Join(dir, "venti.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := Plan9portCmd(ctx, root, "venti/venti", "-c", conf, "-a", v.Addr, "-h", "tcp!127.0.0.1!"+strconv.Itoa(hport))
	cmd.Stdout, cmd.Stderr = logf, logf
	t.Cleanup(func() { killByArg(conf) })
	if err := cmd.Run(); err != nil {
		t.Fatalf("start plan9port venti: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("plan9port venti did not start on %s: %v", v.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return v
}

// killByArg kills every process whose command line contains arg and
// waits for them to go.
func killByArg(arg string) {
	pids := findByArg(arg)
	for _, pid := range pids {
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill()
		}
	}
	for range 100 {
		if len(findByArg(arg)) == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func findByArg(arg string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if strings.Contains(string(b), arg) {
			st, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
			if strings.Contains(string(st), ") Z ") {
				continue // a zombie is gone already
			}
			pids = append(pids, pid)
		}
	}
	return pids
}
