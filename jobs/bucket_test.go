//go:build unix

package jobs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"replfs/rootscor"
	"replfs/venti"

	"replfs/venti/bucket"
	"replfs/venti/bucket/buckettest"
)

// An s3:// target takes ventiprog, shows its manifest as its cursor,
// sends nothing the second time, answers verify, and takes copy as its
// arenas; its credentials may come from the state directory.
func TestBucketTarget(t *testing.T) {
	w := buckettest.Start(t)
	buckettest.Env(t)
	w.MakeBucket(t, "site")
	state := t.TempDir()
	e := newEngine(t, state)
	ctx := context.Background()
	url := w.URL("site", "venti")
	if err := e.Exec(ctx, "target bad s3://Bad_Bucket/x"); err == nil || !strings.Contains(err.Error(), "bad bucket url") {
		t.Errorf("bad url: %v", err)
	}
	if err := e.Exec(ctx, "target off "+url); err != nil {
		t.Fatal(err)
	}
	if err := e.Exec(ctx, "ventiprog -n off"); err != nil {
		t.Fatal(err)
	}
	if st := wait(t, e, 1); st != Done {
		s, _ := e.JobStatus(1)
		t.Fatalf("dry run %s:\n%s", st, s)
	}
	if r, _ := e.JobStatus(1); !strings.Contains(r, "off: would send arenas 2 clumps 941") {
		t.Errorf("dry run report:\n%s", r)
	}
	if err := e.Exec(ctx, "ventiprog off"); err != nil {
		t.Fatal(err)
	}
	if st := wait(t, e, 2); st != Done {
		s, _ := e.JobStatus(2)
		t.Fatalf("ventiprog %s:\n%s", st, s)
	}
	st, _ := e.TargetStatus("off")
	for _, want := range []string{"state idle", "lagbytes 0", "lagclumps 0", "cursor arenas01 0x"} {
		if !strings.Contains(st, want+"\n") && !strings.Contains(st, want) {
			t.Errorf("status lacks %q:\n%s", want, st)
		}
	}
	if strings.Contains(st, buckettest.SecretKey) || strings.Contains(e.CtlText(), buckettest.SecretKey) {
		t.Error("the secret shows")
	}
	if err := e.Exec(ctx, "ventiprog off"); err != nil {
		t.Fatal(err)
	}
	wait(t, e, 3)
	if r, _ := e.JobStatus(3); !strings.Contains(r, "off: arenas 0 clumps 0 bytes 0 objects 0") {
		t.Errorf("second run sent something:\n%s", r)
	}
	if err := e.Exec(ctx, "verify off vac:1c94de5d65de1a7370e6f1dc43e345c0ea721fab"); err != nil {
		t.Fatal(err)
	}
	if st := wait(t, e, 4); st != Done {
		s, _ := e.JobStatus(4)
		t.Fatalf("verify %s:\n%s", st, s)
	}
	if r, _ := e.JobStatus(4); !strings.Contains(r, "complete") {
		t.Errorf("verify:\n%s", r)
	}
	if err := e.Exec(ctx, "copy local off vac:1c94de5d65de1a7370e6f1dc43e345c0ea721fab"); err != nil {
		t.Fatal(err)
	}
	if st := wait(t, e, 5); st != Done {
		s, _ := e.JobStatus(5)
		t.Fatalf("copy %s:\n%s", st, s)
	}
	// Credentials from the state directory, refused unless mode 0600.
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	cred := filepath.Join(state, bucket.CredFileName)
	os.WriteFile(cred, []byte("[default]\naws_access_key_id = "+buckettest.AccessKey+"\naws_secret_access_key = "+buckettest.SecretKey+"\n"), 0644)
	if err := e.Exec(ctx, "ventiprog off"); err != nil {
		t.Fatal(err)
	}
	if st := wait(t, e, 6); st != Failed {
		t.Errorf("credentials of mode 0644: %s", st)
	}
	if s, _ := e.JobStatus(6); !strings.Contains(s, "readable by others") {
		t.Errorf("status:\n%s", s)
	}
	os.Chmod(cred, 0600)
	if err := e.Exec(ctx, "ventiprog off"); err != nil {
		t.Fatal(err)
	}
	if st := wait(t, e, 7); st != Done {
		s, _ := e.JobStatus(7)
		t.Errorf("credentials file: %s\n%s", st, s)
	}
}

// The root score log goes to an object store with the arenas, and
// rootscor -r brings it back into a fresh replfs.
func TestBucketLog(t *testing.T) {
	w := buckettest.Start(t)
	buckettest.Env(t)
	w.MakeBucket(t, "logs")
	e := newEngine(t, t.TempDir())
	ctx := context.Background()
	url := w.URL("logs", "venti")
	if err := e.Exec(ctx, "target off "+url); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"a", "b"} {
		sc, _ := venti.ParseScore(strings.Repeat(s, 40))
		if err := e.scores.Append(rootscor.Record{Score: sc, Partition: "/fs.part", Venti: "local", Fsname: "fs", Time: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	run(t, e, "ventiprog off", Done)
	fresh := newEngine(t, t.TempDir())
	if err := fresh.Exec(ctx, "target off "+url); err != nil {
		t.Fatal(err)
	}
	st := run(t, fresh, "rootscor -r off", Done)
	if !strings.Contains(st, ": 2 lines, 2 added\n") || string(fresh.RootScor()) != string(e.RootScor()) {
		t.Errorf("rootscor -r off:\n%s\n%s", st, fresh.RootScor())
	}
	run(t, fresh, "rootscor -r off vac:"+strings.Repeat("a", 40), Failed)
}
