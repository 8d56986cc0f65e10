//go:build unix

package test

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"replfs/venti"
	"replfs/venti/arena"
	"replfs/venti/bucket"
	"replfs/venti/bucket/buckettest"
	"replfs/venti/ventitest"
)

// weedEnv is the environment with the test server's credentials.
func weedEnv() []string {
	return append(os.Environ(), "AWS_ACCESS_KEY_ID="+buckettest.AccessKey, "AWS_SECRET_ACCESS_KEY="+buckettest.SecretKey)
}

func runEnv(t testing.TB, env []string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(replfsBin, args...)
	cmd.Env = env
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	return o.String(), e.String(), err
}

// serveBucket starts `replfs venti serve s3://...`.
func serveBucket(t testing.TB, url string) string {
	t.Helper()
	addr := "tcp!127.0.0.1!" + strconv.Itoa(freePort(t))
	startEnv(t, []string{"AWS_ACCESS_KEY_ID=" + buckettest.AccessKey, "AWS_SECRET_ACCESS_KEY=" + buckettest.SecretKey},
		"serving", "venti", "serve", "-a", addr, url)
	return addr
}

// checkRoots walks each root's tree on the venti at addr, reading every
// block, as unvac would.
func checkRoots(t testing.TB, addr string, roots ...string) {
	t.Helper()
	c := dialVenti(t, addr)
	for _, r := range roots {
		s, err := venti.ParseScore(strings.TrimPrefix(strings.TrimSpace(r), "vac:"))
		if err != nil {
			t.Fatal(err)
		}
		st, err := venti.VerifyTree(context.Background(), c, s, venti.TreeOptions{ReadAll: true})
		if err != nil || st.Missing > 0 || st.Corrupt > 0 || st.Blocks == 0 {
			t.Errorf("root %v on %s: %+v %v", s, addr, st, err)
		}
	}
}

// ventiprog of the fixture partition and of a few hundred MB to an
// s3:// prefix on SeaweedFS; venti serve s3:// serves every root and
// every clump; a second run sends nothing; new clumps and a sealing
// arena are picked up; venti restore gives a partition our venti (and
// plan9port's, with PLAN9 set) serves.
func TestBucketEndToEnd(t *testing.T) {
	w := buckettest.Start(t)
	w.MakeBucket(t, "offsite")
	env := weedEnv()
	state := t.TempDir()
	fx := filepath.Join(ventitest.Fixtures(t, "venti"), "arenas.part")

	url := w.URL("offsite", "fixture")
	out, errs, err := runEnv(t, env, "ventiprog", "-p", fx, "-d", state, url)
	if err != nil || !strings.Contains(out, "arenas 2 clumps 941 ") {
		t.Fatalf("ventiprog fixture: %v\n%s%s", err, out, errs)
	}
	out, errs, err = runEnv(t, env, "ventiprog", "-p", fx, "-d", state, url)
	if err != nil || !strings.Contains(out, "arenas 0 clumps 0 bytes 0 objects 0") {
		t.Errorf("second ventiprog sent something: %v\n%s%s", err, out, errs)
	}
	addr := serveBucket(t, url)
	checkRoots(t, addr, fixtureRoots...)
	if n := checkHasPartition(t, fx, addr); n != 941 {
		t.Errorf("served %d clumps of the fixture", n)
	}
	if root := os.Getenv("PLAN9"); root != "" && !testing.Short() {
		for _, r := range fixtureRoots[:2] {
			dir := t.TempDir()
			cmd := ventitest.Plan9portCmd(context.Background(), root, "unvac", "-h", addr, r)
			cmd.Dir = dir
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("plan9port unvac %s from venti serve s3://: %v\n%s", r, err, b)
			}
		}
	}

	// A few hundred MB in arenas of 64 MiB, some sealed.
	src := makeSource(t, "1g", "64m", 36000) // 295 MB of blocks
	big := w.URL("offsite", "big")
	start := time.Now()
	out, errs, err = runEnv(t, env, "ventiprog", "-p", src, "-d", state, big)
	if err != nil {
		t.Fatalf("ventiprog: %v\n%s%s", err, out, errs)
	}
	t.Logf("%s in %v", strings.TrimSpace(out), time.Since(start).Round(time.Millisecond))
	if !strings.Contains(out, "clumps 36000 ") {
		t.Errorf("ventiprog: %s", out)
	}
	out, _, _ = runEnv(t, env, "ventiprog", "-p", src, "-d", state, big)
	if !strings.Contains(out, "arenas 0 clumps 0 bytes 0 objects 0") {
		t.Errorf("second run: %s", out)
	}
	// New clumps: the unsealed arena fills and seals, and the next one
	// starts.
	addBlocks(t, src, 36000, 6000)
	waitSummed(t, src) // the arena that sealed goes as one object
	out, errs, err = runEnv(t, env, "ventiprog", "-p", src, "-d", state, big)
	if err != nil || !strings.Contains(out, "clumps 6000 ") {
		t.Fatalf("ventiprog of new clumps: %v\n%s%s", err, out, errs)
	}
	p, err := arena.OpenPartition(src)
	if err != nil {
		t.Fatal(err)
	}
	// A sealed arena goes as one object once its score is summed
	// (until then, as ranges).
	sealed := 0
	for _, a := range p.Arenas {
		if a.Mem.Sealed && a.Score != (venti.Score{}) {
			sealed++
		}
	}
	p.Close()
	m := manifest(t, w, "offsite", "big")
	ms := 0
	for _, e := range m.Arenas {
		if e.Sealed {
			ms++
		}
	}
	if sealed < 5 || ms != sealed {
		t.Errorf("%d arenas sealed in the source, %d in the copy", sealed, ms)
	}
	baddr := serveBucket(t, big)
	if n := checkHasPartition(t, src, baddr); n != 42000 {
		t.Errorf("served %d of 42000 clumps", n)
	}

	// Restore, and serve the restored partition.
	restored := filepath.Join(t.TempDir(), "restored.arenas")
	out, errs, err = runEnv(t, env, "venti", "restore", "-l", filepath.Join(state, "log"), url, restored)
	if err == nil || !strings.Contains(errs, "no root score log") {
		t.Errorf("restore -l with no log kept: %v %s", err, errs)
	}
	os.Remove(restored)
	out, errs, err = runEnv(t, env, "venti", "restore", url, restored)
	if err != nil || !strings.Contains(out, "arenas 2 clumps 941") {
		t.Fatalf("venti restore: %v\n%s%s", err, out, errs)
	}
	v := serveVenti(t, restored)
	checkRoots(t, v.addr, fixtureRoots...)
	checkHasPartition(t, fx, v.addr)
	if root := os.Getenv("PLAN9"); root != "" && !testing.Short() {
		pv := ventitest.StartPlan9portVentiBuilt(t, root, restored)
		for _, r := range fixtureRoots[:2] {
			dir := t.TempDir()
			cmd := ventitest.Plan9portCmd(context.Background(), root, "unvac", "-h", pv.Addr, r)
			cmd.Dir = dir
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("plan9port unvac %s on the restored partition: %v\n%s", r, err, b)
			}
		}
		checkHasPartition(t, fx, pv.Addr)
	}
}

// waitSummed opens our venti on part until every sealed arena has its
// score, as a running venti sums them in the background.
func waitSummed(t testing.TB, part string) {
	t.Helper()
	s, err := arena.Open(context.Background(), []string{part}, arena.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 600 {
		p, err := arena.OpenPartition(part)
		if err != nil {
			t.Fatal(err)
		}
		done := true
		for _, a := range p.Arenas {
			if a.Mem.Sealed && a.Score == (venti.Score{}) {
				done = false
			}
		}
		p.Close()
		if done {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: sealed arenas not summed", part)
}

// manifest reads a prefix's manifest.
func manifest(t testing.TB, w *buckettest.Weed, bkt, prefix string) *bucket.Manifest {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", buckettest.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", buckettest.SecretKey)
	cfg, err := bucket.ParseURL(w.URL(bkt, prefix))
	if err != nil {
		t.Fatal(err)
	}
	b, err := bucket.Open(cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := b.LoadManifest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkManifest reads back, through venti serve s3://, every clump the
// manifest says the copy has.
func checkManifest(t *testing.T, w *buckettest.Weed, bkt, prefix, src string, round int) int {
	t.Helper()
	m := manifest(t, w, bkt, prefix)
	cur := m.Cursor()
	p, err := arena.OpenPartition(src)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if len(m.Arenas) == 0 {
		return 0
	}
	addr := serveBucket(t, w.URL(bkt, prefix))
	return checkBelowCursor(t, p, cur, addr, round)
}

// kill -9 of replfs ventiprog during uploads, many times: after each,
// the manifest names no missing object (venti serve s3:// opens every
// one) and every clump below it is served; a last run completes.
func TestBucketKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kill rounds skipped in -short mode")
	}
	w := buckettest.Start(t)
	w.MakeBucket(t, "kill")
	env := weedEnv()
	// Arenas of 32 MiB: sealed ones and long ranges go up as multipart
	// uploads of two parts, so kills cut some short.
	const perRound = 3000
	src := makeSource(t, "1g", "32m", perRound)
	state := t.TempDir()
	url := w.URL("kill", "venti")
	rng := rand.New(rand.NewPCG(15, 2026))
	total, checked := perRound, 0
	resumed, aborted := 0, 0
	for round := range 16 {
		if round > 0 {
			addBlocks(t, src, total, perRound)
			total += perRound
		}
		prog := exec.Command(replfsBin, "ventiprog", "-p", src, "-d", state, url)
		prog.Env = env
		var stderr bytes.Buffer
		prog.Stderr = &stderr
		if err := prog.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(50+rng.IntN(1500)) * time.Millisecond)
		prog.Process.Kill()
		prog.Wait()
		resumed += strings.Count(stderr.String(), "resuming the upload")
		aborted += strings.Count(stderr.String(), "aborting an unfinished upload")
		checked = checkManifest(t, w, "kill", "venti", src, round)
		t.Logf("round %d: %d of %d clumps below the manifest", round, checked, total)
	}
	out, errs, err := runEnv(t, env, "ventiprog", "-p", src, "-d", state, url)
	if err != nil {
		t.Fatalf("final ventiprog: %v\n%s%s", err, out, errs)
	}
	resumed += strings.Count(errs, "resuming the upload")
	aborted += strings.Count(errs, "aborting an unfinished upload")
	t.Logf("uploads cut short: %d resumed, %d aborted", resumed, aborted)
	if n := checkManifest(t, w, "kill", "venti", src, 99); n != total {
		t.Errorf("after the last run %d of %d clumps are kept", n, total)
	}
	// Multipart uploads cut short were completed or aborted.
	cfg, _ := bucket.ParseURL(url)
	b, err := bucket.Open(cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	if ups, err := b.Uploads(context.Background()); err != nil || len(ups) != 0 {
		t.Errorf("unfinished uploads left: %v %v", ups, err)
	}
}

// SeaweedFS stopped in the middle of a trickle to an s3:// target and
// started again: the job retries and completes, and the copy then holds
// every block.
func TestBucketStoreRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("store restart skipped in -short mode")
	}
	w := buckettest.Start(t)
	w.MakeBucket(t, "restart")
	r := startReplfsArgs(t, "", []string{"AWS_ACCESS_KEY_ID=" + buckettest.AccessKey, "AWS_SECRET_ACCESS_KEY=" + buckettest.SecretKey})
	const n = 12000 // 98 MB
	writeBlocks(t, r.venti, 7, n)
	fs := r.mount9(t)
	url := w.URL("restart", "site")
	for _, cmd := range []string{"set maxretries 30", "set retryseconds 1", "target -r 16m off " + url, "trickle local off"} {
		if err := write9(t, fs, "/ctl", cmd); err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
	}
	// Stop the store once the copy is under way.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(read9(t, fs, "/targets/off/status"), "state running") {
		if time.Now().After(deadline) {
			t.Fatalf("copy did not start:\n%s", read9(t, fs, "/jobs/1/status"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond)
	w.Stop()
	time.Sleep(3 * time.Second)
	mid := read9(t, fs, "/jobs/1/status")
	w.Restart(t)
	st, seen := waitJob(t, func() string { return read9(t, fs, "/jobs/1/status") })
	if !strings.HasPrefix(st, "state done") {
		t.Fatalf("job after the store came back:\n%s\nstates %v", st, seen)
	}
	retried := strings.Contains(mid, "retrying")
	for _, s := range seen {
		retried = retried || strings.Contains(s, "retrying")
	}
	if !retried {
		t.Errorf("the job never retried: states %v, while stopped:\n%s", seen, mid)
	}
	// Every block is in the copy.
	addr := serveBucket(t, url)
	c := dialVenti(t, addr)
	ctx := context.Background()
	missing := 0
	for i := 1; i <= n; i++ {
		b := make([]byte, 8192)
		rr := rand.New(rand.NewPCG(7, uint64(i)))
		for j := 0; j < len(b); j += 8 {
			binary.LittleEndian.PutUint64(b[j:], rr.Uint64())
		}
		if _, err := c.Read(ctx, venti.Sum(b), venti.DataType, venti.MaxLumpSize); err != nil {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d blocks missing from the copy", missing, n)
	}
}
