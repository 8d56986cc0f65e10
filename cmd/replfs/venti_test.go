package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"replfs/ctl"
	"replfs/fossil"
	"replfs/venti"
	"replfs/venti/arena"
	"replfs/venti/ventitest"
)

// runCmd runs replfs with args in-process and returns status, stdout and
// stderr.
func runCmd(t *testing.T, stdin string, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{
		stdin:  strings.NewReader(stdin),
		stdout: &out,
		stderr: &errb,
		getenv: func(k string) string { return vars[k] },
	}
	st := run(context.Background(), e, args)
	return st, out.String(), errb.String()
}

func TestVentiCommands(t *testing.T) {
	addr, store := ventitest.NewServer(t)
	data := "hello, venti\n"
	want := venti.Sum([]byte(data)).String()

	st, out, errs := runCmd(t, data, nil, "venti", "write", "-h", addr)
	if st != 0 || out != want+"\n" {
		t.Fatalf("write: %d %q %q", st, out, errs)
	}
	if store.Syncs() != 1 {
		t.Errorf("write did not sync: %d syncs", store.Syncs())
	}
	// $venti is the default address.
	st, out, errs = runCmd(t, "", map[string]string{"venti": addr}, "venti", "read", "-t", "0", want)
	if st != 0 || out != data {
		t.Fatalf("read: %d %q %q", st, out, errs)
	}
	// Without -t every type is tried; the type found is reported.
	st, out, errs = runCmd(t, "", nil, "venti", "read", "-h", addr, want)
	if st != 0 || out != data || errs != "replfs venti read -h "+addr+" -t 0 "+want+"\n" {
		t.Fatalf("read without -t: %d %q %q", st, out, errs)
	}
	// A vac: score without -t is read as a root.
	root := make([]byte, venti.RootSize)
	copy(root, "fake root")
	st, out, errs = runCmd(t, string(root), nil, "venti", "write", "-h", addr, "-t", "root")
	if st != 0 {
		t.Fatalf("write root: %d %q", st, errs)
	}
	st, out, errs = runCmd(t, "", nil, "venti", "read", "-h", addr, "vac:"+strings.TrimSpace(out))
	if st != 0 || out != string(root) || errs != "" {
		t.Fatalf("read vac: %d %d bytes %q", st, len(out), errs)
	}
	// -z truncates trailing zeros.
	st, out, _ = runCmd(t, "ab\x00\x00", nil, "venti", "write", "-z", "-h", addr)
	if st != 0 || out != venti.Sum([]byte("ab")).String()+"\n" {
		t.Errorf("write -z: %d %q", st, out)
	}
	st, _, errs = runCmd(t, "", nil, "venti", "sync", "-h", addr)
	if st != 0 || errs != "" {
		t.Errorf("sync: %d %q", st, errs)
	}
}

func TestVentiCommandErrors(t *testing.T) {
	addr, _ := ventitest.NewServer(t)
	missing := venti.Sum([]byte("nonexistent")).String()
	for _, tt := range []struct {
		name  string
		stdin string
		args  []string
		err   string
	}{
		{"missing block", "", []string{"venti", "read", "-h", addr, "-t", "0", missing},
			"replfs venti read: no block with score " + missing + "/0 exists\n"},
		{"missing any type", "", []string{"venti", "read", "-h", addr, missing},
			"replfs venti read: no block with score " + missing + "/16 exists\n"},
		{"bad score", "", []string{"venti", "read", "-h", addr, "xyz"}, "replfs venti read: bad score \"xyz\"\n"},
		{"bad type", "", []string{"venti", "read", "-h", addr, "-t", "17", missing}, "replfs venti read: bad block type \"17\"\n"},
		{"bad address", "x", []string{"venti", "write", "-h", "il!x!1"}, "replfs venti write: dial venti: bad address \"il!x!1\"\n"},
		{"too big", strings.Repeat("x", venti.MaxLumpSize+1), []string{"venti", "write", "-h", addr},
			"replfs venti write: input too big: max block size is 57344\n"},
		{"read usage", "", []string{"venti", "read"}, "usage: replfs venti read [-h addr] [-t type] score\n"},
		{"sync usage", "", []string{"venti", "sync", "extra"}, "usage: replfs venti sync [-h addr]\n"},
		{"bad flag", "", []string{"venti", "write", "-q"},
			"flag provided but not defined: -q\nusage: replfs venti write [-h addr] [-t type] [-z] < data\n"},
		{"ventiprog ..", "", []string{"ventiprog", "-p", "/nonexistent", "-d", "/nonexistent", ".."},
			"replfs ventiprog: bad address \"..\"\n"},
		{"ventiprog port 0", "", []string{"ventiprog", "-p", "/nonexistent", "-d", "/nonexistent", "tcp!127.0.0.1!0"},
			"replfs ventiprog: bad address \"tcp!127.0.0.1!0\": port 0\n"},
		{"ventiprog file", "", []string{"ventiprog", "-p", "/nonexistent", "-d", "/nonexistent", "unix!/etc/passwd"},
			"replfs ventiprog: bad address \"unix!/etc/passwd\": not a socket\n"},
		{"unknown", "", []string{"venti", "frob"}, "replfs venti: unknown command \"frob\"\n" + usageText},
		{"unknown top", "", []string{"frob"}, "replfs: unknown command \"frob\"\n" + usageText},
	} {
		st, out, errs := runCmd(t, tt.stdin, nil, tt.args...)
		if st != 1 || out != "" || errs != tt.err {
			t.Errorf("%s: status %d, stdout %q, stderr %q; want 1, stderr %q", tt.name, st, out, errs, tt.err)
		}
	}
	if st, _, errs := runCmd(t, "", nil, "-?"); st != 0 || errs != usageText {
		t.Errorf("-?: %d %q", st, errs)
	}
	// -h is the HTTP address, as venti's: alone it is a usage error.
	if st, _, errs := runCmd(t, "", nil, "-h"); st != 1 || !strings.HasSuffix(errs, usageText) {
		t.Errorf("-h: %d %q", st, errs)
	}
}

// TestVentiprogCorrupt: a corrupt source clump is skipped, and the
// exit status and standard error say so, naming arena and offset.
func TestVentiprogCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "arenas.part")
	ventitest.CopyFixture(t, "venti", "arenas.part", path)
	p, err := arena.OpenPartition(path)
	if err != nil {
		t.Fatal(err)
	}
	off := p.Arenas[1].Base() + arena.ClumpSize + 16
	p.Close()
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	f.WriteAt([]byte("XXXXXXXX"), off)
	f.Close()
	addr, store := ventitest.NewServer(t)
	st, out, errs := runCmd(t, "", nil, "ventiprog", "-p", path, "-d", t.TempDir(), addr)
	if st != 1 || !strings.HasPrefix(out, addr+": arenas 2 clumps 940 ") || store.Len() != 940 ||
		!strings.Contains(errs, "replfs ventiprog: "+addr+": source corrupt: 1 clump skipped, first arena arenas01: clump 0x0 has mismatched score") {
		t.Errorf("status %d, %d blocks, stdout %q, stderr %q", st, store.Len(), out, errs)
	}
}

// TestFlfmtRefuses: flfmt refuses a file that is no fossil partition
// and not zeros, before asking venti anything, and leaves it alone.
func TestFlfmtRefuses(t *testing.T) {
	addr, _ := ventitest.NewServer(t)
	path := filepath.Join(t.TempDir(), "notes")
	text := []byte(strings.Repeat("notes\n", 2<<20/6))
	os.WriteFile(path, text, 0600)
	st, _, errs := runCmd(t, "", nil, "fossil", "flfmt", "-y", "-h", addr, "-v", "0842818bc4e6acc5ed5ca517cb45cb760844e9ed", path)
	if want := "replfs fossil flfmt: " + path + ": not a fossil partition (holds text)\n"; st != 1 || errs != want {
		t.Errorf("status %d, stderr %q, want %q", st, errs, want)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, text) {
		t.Error("changed")
	}
}

// venti fmt refuses a partition whose arenas hold clumps unless -y,
// naming what it holds, and one another process has open even with -y;
// with no -a it picks the arena size the embedded venti does.
func TestVentiFmtRefuses(t *testing.T) {
	part := filepath.Join(t.TempDir(), "x.part")
	st, _, errs := runCmd(t, "", nil, "venti", "fmt", "-s", "1g", part)
	if st != 0 || !strings.Contains(errs, "16 arenas") {
		t.Fatalf("venti fmt: %d %s", st, errs)
	}
	s, err := arena.Open(context.Background(), []string{part}, arena.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		s.Write(context.Background(), venti.DataType, []byte{byte(i)})
	}
	s.Close()
	before, _ := os.ReadFile(part)
	st, _, errs = runCmd(t, "", nil, "venti", "fmt", part)
	if want := "replfs venti fmt: " + part + " holds 1 arena, 10 clumps: use -y to destroy them\n"; st != 1 || errs != want {
		t.Errorf("status %d, stderr %q, want %q", st, errs, want)
	}
	if after, _ := os.ReadFile(part); !bytes.Equal(before, after) {
		t.Error("refused, yet changed")
	}
	hold := exec.Command("sh", "-c", "exec sleep 30 3<"+part)
	if err := hold.Start(); err != nil {
		t.Fatal(err)
	}
	defer hold.Process.Kill()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids, _ := fossil.Holders(part)
		if len(pids) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	st, _, errs = runCmd(t, "", nil, "venti", "fmt", "-y", part)
	if st != 1 || !strings.Contains(errs, "is in use by process") {
		t.Errorf("held partition: status %d, %s", st, errs)
	}
	hold.Process.Kill()
	hold.Wait()
	if st, _, errs = runCmd(t, "", nil, "venti", "fmt", "-y", part); st != 0 {
		t.Errorf("venti fmt -y: %s", errs)
	}
}

// flfmt's refusal of a partition holding a fossil names -y.
func TestFlfmtNamesY(t *testing.T) {
	addr, _ := ventitest.NewServer(t)
	src := filepath.Join(ventitest.Fixtures(t, "fossil"), "fossil.part")
	part := filepath.Join(t.TempDir(), "fossil.part")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(part, b, 0600)
	st, _, errs := runCmd(t, "", nil, "fossil", "flfmt", "-h", addr, "-v", "0842818bc4e6acc5ed5ca517cb45cb760844e9ed", part)
	if want := "replfs fossil flfmt: " + part + " holds a fossil: use -y to destroy it\n"; st != 1 || errs != want {
		t.Errorf("status %d, stderr %q, want %q", st, errs, want)
	}
}

// Flags parse as Plan 9's ARGBEGIN does: bundled, with values joined or
// apart, for every subcommand.
func TestPlan9Flags(t *testing.T) {
	fs := newFlags("x")
	fs.Bool("A", false, "")
	fs.Bool("D", false, "")
	fs.Bool("n", false, "")
	fs.Int("w", 0, "")
	fs.String("p", "", "")
	for _, c := range []struct{ in, want string }{
		{"-AD x", "-A -D x"},
		{"-nw 5 t", "-n -w 5 t"},
		{"-nw5 t", "-n -w 5 t"},
		{"-w5 -pfile t", "-w 5 -p file t"},
		{"-w=5 t", "-w=5 t"},
		{"-n -- -A", "-n -- -A"},
		{"t -A", "t -A"},
		{"-Ax", "-A -x"},
	} {
		if got := strings.Join(argv(fs, strings.Fields(c.in)), " "); got != c.want {
			t.Errorf("argv(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// In use: a bundled dry run with a joined window.
	st, out, errs := runCmd(t, "", nil, "ventiprog", "-nw64", "-p", filepath.Join(ventitest.Fixtures(t, "venti"), "arenas.part"), "-d", t.TempDir(), "tcp!127.0.0.1!1")
	if st != 0 || !strings.Contains(out, "would send arenas 2 clumps 941") {
		t.Errorf("ventiprog -nw64: %d %s %s", st, out, errs)
	}
	addr, _ := ventitest.NewServer(t)
	if st, _, errs := runCmd(t, "x", nil, "venti", "write", "-zh", addr); st != 0 {
		t.Errorf("venti write -zh addr: %s", errs)
	}
}

// A bad flag prints the whole usage, control messages too, one line
// each.
func TestUsageListsVerbs(t *testing.T) {
	st, _, errs := runCmd(t, "", nil, "-x")
	if st != 1 || !strings.Contains(errs, "control messages, written to ctl:\n") {
		t.Fatalf("status %d:\n%s", st, errs)
	}
	for _, v := range ctl.Verbs {
		if !strings.Contains(errs, "       "+v.Usage+"\n") {
			t.Errorf("usage lacks %q", v.Usage)
		}
	}
}
