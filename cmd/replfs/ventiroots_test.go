package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"replfs/fossil"
	"replfs/rootscor"
	"replfs/venti"
	"replfs/venti/arena"
	"replfs/venti/ventitest"
)

// TestVentiRootsFixture: on plan9port's arenas, `venti roots` lists
// exactly the roots of roots.txt, fossil's archives among them, with
// clump times within the arena's life.
func TestVentiRootsFixture(t *testing.T) {
	part := filepath.Join(ventitest.Fixtures(t, "venti"), "arenas.part")
	st, out, errs := runCmd(t, "", nil, "venti", "roots", part)
	if st != 0 || errs != "" {
		t.Fatalf("status %d, stderr %q", st, errs)
	}
	lo, hi := time.Unix(1795296242, 0), time.Unix(1795296646, 0) // arenas01's ctime and wtime
	var want, got []string
	for _, r := range ventitest.FixtureRoots(t) {
		want = append(want, fmt.Sprintf("%v %s %s TIME %s %d %v", r.Score, quoteField(r.Root.Name), r.Root.Type, r.Arena, r.Offset, r.Root.Prev))
	}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		f := strings.Split(l, " ")
		if len(f) != 7 {
			t.Fatalf("line %q: %d fields", l, len(f))
		}
		tm, err := time.Parse(time.RFC3339, f[3])
		if err != nil || tm.Before(lo) || tm.After(hi) || !strings.HasSuffix(f[3], "Z") {
			t.Errorf("line %q: time %v %v", l, tm, err)
		}
		f[3] = "TIME"
		got = append(got, strings.Join(f, " "))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("roots:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}
	// A single arena, as rdarena writes one, is read too.
	st, out1, errs := runCmd(t, "", nil, "venti", "roots", part+":4988928-9183232")
	if st != 0 || errs != "" || out1 != out {
		t.Errorf("arenas01 alone: %d %q %q", st, out1, errs)
	}
	// The fossil partition's last archive is one of them, named fossil.
	last, err := fossil.Last(filepath.Join(ventitest.Fixtures(t, "fossil"), "fossil.part"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, last.String()+" fossil vac ") {
		t.Errorf("fossil's last archive %v not listed", last)
	}
	// There is no root score log in it.
	st, out, errs = runCmd(t, "", nil, "venti", "roots", "-l", part)
	if st != 1 || out != "" || errs != "replfs venti roots: no root score log in "+part+"\n" {
		t.Errorf("-l: %d %q %q", st, out, errs)
	}
}

// TestVentiRootsLog: logs written with rootscor.WriteLog into our store
// are listed, and -l recovers the newest byte for byte, from the
// partition and through a venti server.
func TestVentiRootsLog(t *testing.T) {
	part := filepath.Join(t.TempDir(), "arenas.part")
	if st, _, errs := runCmd(t, "", nil, "venti", "fmt", "-a", "1m", "-s", "6m", part); st != 0 {
		t.Fatal(errs)
	}
	ctx := context.Background()
	// Uncompressed: a byte of a root is flipped below, to fail its score.
	s, err := arena.Open(ctx, []string{part}, arena.StoreOptions{NoCompress: true})
	if err != nil {
		t.Fatal(err)
	}
	var log []byte
	for i := range 12000 {
		log = fmt.Appendf(log, "vac:%v /dev/sdC0/fossil tcp!venti!17034 main 2026-11-%02dT04:00:00Z\n", venti.Sum([]byte{byte(i), byte(i >> 8)}), i%30+1)
	}
	log1 := log[:len(log)/3]
	vac, err := ventitest.MakeTree(ctx, s, 3, 5000, 1)
	if err != nil {
		t.Fatal(err)
	}
	r1, err := rootscor.WriteLog(ctx, s, log1, venti.Score{})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := rootscor.WriteLog(ctx, s, log, r1)
	if err != nil {
		t.Fatal(err)
	}
	rb1, rb2 := mustRead(t, s, r1), mustRead(t, s, r2)
	// Closed, so that the store's summing of sealed arenas does not
	// change the file while we check that venti roots does not.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(part)

	st, out, errs := runCmd(t, "", nil, "venti", "roots", part)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if st != 0 || errs != "" || len(lines) != 5 {
		t.Fatalf("roots: %d %q %q", st, out, errs)
	}
	// Each log is a vac archive under two roots: the vac one, for unvac,
	// then the replfs one, chained.
	v1, err := rootscor.VacRoot(rb1)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := rootscor.VacRoot(rb2)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range []string{
		vac.String() + " test vac ",
		v1.String() + " rootscor vac ",
		r1.String() + " rootscor replfs ",
		v2.String() + " rootscor vac ",
		r2.String() + " rootscor replfs ",
	} {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d: %q, want %q...", i, lines[i], w)
		}
	}
	all := lines
	lines = []string{lines[0], lines[2], lines[4]}
	if !strings.HasSuffix(lines[1], " "+venti.Score{}.String()) || !strings.HasSuffix(lines[2], " "+r1.String()) {
		t.Errorf("prev: %q", out)
	}
	// The logs span arenas: the newest was written in a later arena than
	// the blocks it shares with the first.
	if f1, f2 := strings.Fields(lines[1]), strings.Fields(lines[2]); f1[4] == f2[4] {
		t.Errorf("both logs in %s", f1[4])
	}

	st, out, errs = runCmd(t, "", nil, "venti", "roots", "-l", part)
	if st != 0 || errs != "" || out != string(log) {
		t.Errorf("-l: %d, %d bytes (want %d), %q", st, len(out), len(log), errs)
	}
	after, _ := os.ReadFile(part)
	if !bytes.Equal(before, after) {
		t.Error("venti roots changed the partition")
	}

	// A damaged root is reported, and the others still listed and read.
	bad := filepath.Join(t.TempDir(), "bad.part")
	f1 := strings.Fields(lines[1])
	p, err := arena.OpenPartition(part)
	if err != nil {
		t.Fatal(err)
	}
	off, _ := strconv.ParseInt(f1[5], 10, 64)
	clump := p.Arena(f1[4]).Base() + off
	p.Close()
	after[clump+arena.ClumpSize+10] ^= 1
	os.WriteFile(bad, after, 0600)
	st, out, errs = runCmd(t, "", nil, "venti", "roots", bad)
	if st != 1 || out != strings.Join([]string{all[0], all[1], all[3], all[4], ""}, "\n") ||
		errs != fmt.Sprintf("replfs venti roots: arena %s: clump %#x: corrupt data: mismatched score: want %v got %v\n", f1[4], off, r1, venti.Sum(flip(rb1, 10))) {
		t.Errorf("damaged: %d %q %q", st, out, errs)
	}
	st, out, errs = runCmd(t, "", nil, "venti", "roots", "-l", bad)
	if st != 1 || out != string(log) || !strings.Contains(errs, "mismatched score") {
		t.Errorf("damaged -l: %d, %d bytes, %q", st, len(out), errs)
	}

	// Through a venti server.
	s, err = arena.Open(ctx, []string{part}, arena.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addr := ventitest.Serve(t, &venti.Server{Store: s})
	st, out, errs = runCmd(t, "", nil, "venti", "roots", "-l", "-h", addr, part)
	if st != 0 || errs != "" || out != string(log) {
		t.Errorf("-l -h: %d, %d bytes (want %d), %q", st, len(out), len(log), errs)
	}
	// A venti without the blocks.
	empty, _ := ventitest.NewServer(t)
	st, out, errs = runCmd(t, "", nil, "venti", "roots", "-l", "-h", empty, part)
	if st != 1 || out != "" || !strings.HasPrefix(errs, "replfs venti roots: read root score log "+r2.String()+": no block with score") {
		t.Errorf("-l -h empty: %d %q %q", st, out, errs)
	}
}

func flip(b []byte, i int) []byte {
	b[i] ^= 1
	return b
}

func mustRead(t *testing.T, r venti.BlockReader, s venti.Score) []byte {
	t.Helper()
	b, err := r.Read(context.Background(), s, venti.RootType, venti.RootSize)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVentiRootsErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, make([]byte, 1<<20), 0600)
	const usage = "usage: replfs venti roots [-l] [-h venti] partition...\n"
	for _, tt := range []struct {
		name string
		args []string
		err  string
	}{
		{"no partition", []string{"venti", "roots"}, usage},
		{"-h without -l", []string{"venti", "roots", "-h", "x", junk}, usage},
		{"missing", []string{"venti", "roots", dir + "/nosuch"}, "replfs venti roots: open " + dir + "/nosuch: no such file or directory\n"},
		{"junk", []string{"venti", "roots", junk}, "replfs venti roots: arena partition " + junk +
			": corrupt data: arena set has wrong magic number: 0x0 (nor an arena: arena at 0x0 of " + junk +
			": corrupt data: arena head has wrong magic number: 0x0)\n"},
	} {
		st, out, errs := runCmd(t, "", nil, tt.args...)
		if st != 1 || out != "" || errs != tt.err {
			t.Errorf("%s: %d %q %q, want %q", tt.name, st, out, errs, tt.err)
		}
	}
}
