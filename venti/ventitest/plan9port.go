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

// StartPlan9portVentiBuilt is StartPlan9portVentiOn for arenas whose
// diskstats already count every clump (arenas a venti indexed, copied
// whole): buildindex indexes them all before venti starts.
func StartPlan9portVentiBuilt(t testing.TB, root, arenas string) *Plan9portVenti {
	t.Helper()
	v, err := launchPlan9portVenti(root, t.TempDir(), arenas, "", "", true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Stop)
	return v
}

func startPlan9portVenti(t testing.TB, root, arenas, arenaSize, arenaEach string) *Plan9portVenti {
	t.Helper()
	v, err := LaunchPlan9portVenti(root, t.TempDir(), arenas, arenaSize, arenaEach)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Stop)
	return v
}

// LaunchPlan9portVenti is StartPlan9portVenti for programs other than
// tests: it makes the partitions in dir (the arena partition too unless
// arenas names one), starts venti, and returns it; Stop kills it.
func LaunchPlan9portVenti(root, dir, arenas, arenaSize, arenaEach string) (*Plan9portVenti, error) {
	return launchPlan9portVenti(root, dir, arenas, arenaSize, arenaEach, false)
}

func launchPlan9portVenti(root, dir, arenas, arenaSize, arenaEach string, build bool) (*Plan9portVenti, error) {
	ctx := context.Background()
	run := func(name string, args ...string) error {
		out, err := Plan9portCmd(ctx, root, name, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return nil
	}
	part := func(name, size string) (string, error) {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			return "", err
		}
		defer f.Close()
		n, err := parseSize(size)
		if err != nil {
			return "", err
		}
		return p, f.Truncate(n)
	}
	var err error
	if arenas == "" {
		if arenas, err = part("arenas.part", arenaSize); err != nil {
			return nil, err
		}
		if err := run("venti/fmtarenas", "-a", arenaEach, "arenas0", arenas); err != nil {
			return nil, err
		}
	}
	isect, err := part("isect.part", "32M")
	if err != nil {
		return nil, err
	}
	bloom, err := part("bloom.part", "1M")
	if err != nil {
		return nil, err
	}
	if err := run("venti/fmtisect", "isect0", isect); err != nil {
		return nil, err
	}
	if err := run("venti/fmtbloom", bloom); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "venti.conf")
	text := fmt.Sprintf("index main\narenas %s\nisect %s\nbloom %s\nmem 32M\nbcmem 32M\nicmem 32M\n", arenas, isect, bloom)
	if err := os.WriteFile(conf, []byte(text), 0644); err != nil {
		return nil, err
	}
	if err := run("venti/fmtindex", conf); err != nil {
		return nil, err
	}
	if build {
		if err := run("venti/buildindex", "-b", conf); err != nil {
			return nil, err
		}
	}
	v := &Plan9portVenti{Dir: dir, Conf: conf}
	port, hport := freePort(), freePort()
	v.Addr = "tcp!127.0.0.1!" + strconv.Itoa(port)
	v.HTTPAddr = "127.0.0.1:" + strconv.Itoa(hport)
	// venti puts itself in the background, keeping its output open: give
	// it a file, not a pipe we would wait on. The conf path, unique to
	// this venti, finds it again.
	logf, err := os.Create(filepath.Join(dir, "venti.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := Plan9portCmd(ctx, root, "venti/venti", "-c", conf, "-a", v.Addr, "-h", "tcp!127.0.0.1!"+strconv.Itoa(hport))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Run(); err != nil {
		v.Stop()
		return nil, fmt.Errorf("start plan9port venti: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
			return v, nil
		}
		if time.Now().After(deadline) {
			v.Stop()
			return nil, fmt.Errorf("plan9port venti did not start on %s: %v", v.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the venti.
func (v *Plan9portVenti) Stop() { killByArg(v.Conf) }

// parseSize reads sizes like 64M (powers of 1024).
func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "M"), strings.HasSuffix(s, "m"):
		mult, s = 1<<20, s[:len(s)-1]
	case strings.HasSuffix(s, "G"), strings.HasSuffix(s, "g"):
		mult, s = 1<<30, s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// killByArg kills every process whose command line contains arg and
// waits for them to go.
func killByArg(arg string) {
	pids := FindByArg(arg)
	for _, pid := range pids {
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill()
		}
	}
	for range 100 {
		if len(FindByArg(arg)) == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// FindByArg returns the processes whose command line holds arg.
func FindByArg(arg string) []int {
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
