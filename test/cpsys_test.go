package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"replfs/fossil"
	"replfs/fossil/fossiltest"
	"replfs/venti/ventitest"
)

const (
	fossilArchive1 = "51c25c52bfe3e7b5be6891c5f218d9d14fb8ddcd"
	fossilArchive2 = "0842818bc4e6acc5ed5ca517cb45cb760844e9ed"
)

// TestCpsys: the whole backup round between two replfs servers, each
// with its own venti and fossil (the fake fossil on real partition
// files). SRC reads the fixture venti's arenas and has the fixture
// fossil (last archive 0842…); DST's embedded venti is empty and its
// fossil was re-rooted on the older archive 51c2…. ventiprog copies the
// arenas to DST's venti, then cpsys, run on SRC, re-roots DST's fossil
// on SRC's last archive: DST's partition must then be plan9port's
// flfmt -v of that archive (fossil-v.part) but for the random tag.
// It runs over plain TCP and over tls! listeners whose peers pin one
// another.
func TestCpsys(t *testing.T) {
	for _, network := range []string{"tcp", "tls"} {
		t.Run(network, func(t *testing.T) { testCpsys(t, network) })
	}
}

func testCpsys(t *testing.T, network string) {
	fake := fossiltest.FakeFossil(t)
	fx := ventitest.Fixtures(t, "venti")
	ffx := ventitest.Fixtures(t, "fossil")

	// The source venti: a copy of the fixture's, served by replfs.
	sdir := t.TempDir()
	arenas := copyFile(t, filepath.Join(fx, "arenas.part"), sdir)
	sv := serveVenti(t, arenas)

	// DST: replfs on its own venti; its fossil on an 8 MiB partition
	// re-rooted on the first archive.
	ddir := t.TempDir()
	dpart := filepath.Join(ddir, "fossil.part")
	if err := os.WriteFile(dpart, nil, 0600); err != nil {
		t.Fatal(err)
	}
	os.Truncate(dpart, 8<<20)
	if out, err := exec.Command(replfsBin, "fossil", "flfmt", "-h", sv.addr, "-v", "vac:"+fossilArchive1, dpart).CombinedOutput(); err != nil {
		t.Fatalf("flfmt: %v\n%s", err, out)
	}
	want, err := os.ReadFile(filepath.Join(ffx, "fossil-v.part"))
	if err != nil {
		t.Fatal(err)
	}
	if d := diffExceptTags(t, dpart, want); len(d) == 0 {
		t.Fatal("DST already looks re-rooted on the last archive")
	}
	// Over TLS each gets an identity, a tls! listener, and the same
	// allow list naming both.
	dstate := filepath.Join(ddir, "state")
	sstate := filepath.Join(sdir, "state")
	os.MkdirAll(sstate, 0700)
	var dargs, sargs []string
	var saddr, daddr string
	if network == "tls" {
		saddr, daddr = tlsAddr(t), tlsAddr(t)
		pins := []string{makeID(t, sstate, "src") + " ctl " + saddr, makeID(t, dstate, "dst") + " ctl " + daddr}
		writePeers(t, sstate, pins...)
		writePeers(t, dstate, pins...)
		sargs, dargs = []string{"-a", saddr}, []string{"-a", daddr}
	}
	dlog := filepath.Join(ddir, "fake.log")
	dst := startReplfsArgs(t, dstate, []string{"FAKEFOSSIL_LOG=" + dlog}, append(dargs, "-F", fake)...)
	dfs := dst.mount9(t)
	if err := write9(t, dfs, "/ctl", "fossil -p "+fake+" -h local -n backup "+dpart+"\nfossilstart\n"); err != nil {
		t.Fatal(err)
	}
	if st, _ := waitJob(t, func() string { return read9(t, dfs, "/jobs/1/status") }); !strings.HasPrefix(st, "state done\n") {
		t.Fatalf("DST fossilstart:\n%s", st)
	}

	// SRC: replfs whose source is the fixture venti, and the fixture
	// fossil.
	spart := copyFile(t, filepath.Join(ffx, "fossil.part"), sdir)
	if err := os.WriteFile(filepath.Join(sstate, "config"), []byte("source "+sv.addr+" "+arenas+"\n"), 0600); err != nil {
		t.Fatal(err)
	}
	src := startReplfsSource(t, sstate, append(sargs, "-F", fake)...)
	if network == "tcp" {
		saddr, daddr = src.tcpDial, dst.tcpDial
	}
	sfs := src.mount9(t)
	if err := write9(t, sfs, "/ctl", "target backup "+dst.venti+"\nfossil -p "+fake+" -n fs "+spart+"\n"); err != nil {
		t.Fatal(err)
	}
	if err := write9(t, sfs, "/ctl", "ventiprog backup"); err != nil {
		t.Fatal(err)
	}
	if st, _ := waitJob(t, func() string { return read9(t, sfs, "/jobs/1/status") }); !strings.HasPrefix(st, "state done\n") {
		t.Fatalf("ventiprog:\n%s", st)
	}

	if err := write9(t, sfs, "/ctl", "cpsys "+saddr+" "+daddr); err != nil {
		t.Fatal(err)
	}
	st, _ := waitJob(t, func() string { return read9(t, sfs, "/jobs/2/status") })
	if !strings.HasPrefix(st, "state done\n") ||
		!strings.Contains(st, "result "+daddr+" re-rooted on vac:"+fossilArchive2+" from "+saddr+"\n") {
		t.Fatalf("cpsys:\n%s", st)
	}
	if !strings.Contains(st, "no archive yet on "+dpart) {
		t.Errorf("cpsys did not note DST's missing archive:\n%s", st)
	}
	t.Logf("cpsys status:\n%s", st)

	// DST's partition is flfmt -v of SRC's last archive.
	if d := diffExceptTags(t, dpart, want); len(d) != 0 {
		t.Errorf("DST partition differs from fossil-v.part at %d bytes beyond the tags, first %#x", len(d), d[0])
	}
	if last, _ := fossil.Last(dpart); last.String() != "da39a3ee5e6b4b0d3255bfef95601890afd80709" {
		t.Errorf("DST last %v", last)
	}
	// SRC recorded its root; DST ran fossilize then fosreset, halting
	// and restarting its fossil around the format.
	if log := read9(t, sfs, "/rootscor"); !strings.HasPrefix(log, "vac:"+fossilArchive2+" "+spart+" "+sv.addr+" fs ") {
		t.Errorf("SRC rootscor %q", log)
	}
	djobs := listDir(t, dfs, "/jobs")
	if djobs != "1 2 3" {
		t.Errorf("DST jobs %s", djobs)
	}
	if st := read9(t, dfs, "/jobs/3/status"); !strings.Contains(st, "cmd fosreset vac:"+fossilArchive2+"\n") ||
		!strings.HasPrefix(st, "state done\n") {
		t.Errorf("DST fosreset:\n%s", st)
	}
	b, _ := os.ReadFile(dlog)
	if !strings.Contains(string(b), "fsys all sync\nfsys all halt\nexit terminated\nstart -t\n") {
		t.Errorf("DST fossil was not halted and restarted:\n%s", b)
	}
}

// diffExceptTags returns the offsets where part differs from want,
// other than the two fields flfmt fills with its random tag: block 0's
// label and the root block's local entry.
func diffExceptTags(t *testing.T, part string, want []byte) []int64 {
	t.Helper()
	got, err := os.ReadFile(part)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: size %d, want %d", part, len(got), len(want))
	}
	h, _, err := fossil.ReadSuper(part)
	if err != nil {
		t.Fatal(err)
	}
	bs := int64(h.BlockSize)
	tags := map[int64]bool{}
	for i := int64(0); i < 4; i++ {
		tags[int64(h.Label)*bs+10+i] = true
		tags[int64(h.Data+1)*bs+32+i] = true
	}
	var diff []int64
	for i := range want {
		if got[i] != want[i] && !tags[int64(i)] {
			diff = append(diff, int64(i))
		}
	}
	return diff
}
