package jobs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"replfs/ctl"
)

// TestTornJobRecord: a job record that is torn or unreadable is
// reported in /log and skipped; replfs starts, and its number is not
// used again.
func TestTornJobRecord(t *testing.T) {
	for _, torn := range []string{
		"state running",             // old format, cut before its newline
		"",                          // nothing written
		"state done\ncmd ventiprog", // old format, cut in its second line
		"\x00\x00\x00\x00",
		"{\"version\":1,\"id\":7,\"verb\":\"ventiprog\",\"st",
	} {
		state := t.TempDir()
		jobs := filepath.Join(state, "jobs")
		os.MkdirAll(jobs, 0700)
		os.WriteFile(filepath.Join(jobs, "6"), []byte("state done\ncmd ventiprog -n\ncreated -\nstarted -\nended -\nclumps 0\nbytes 0\nblocks 0\nrate 0\n"), 0600)
		os.WriteFile(filepath.Join(jobs, "7"), []byte(torn), 0600)
		e := newEngine(t, state)
		if ids := e.Jobs(); !slices.Equal(ids, []int{6}) {
			t.Errorf("%q: jobs %v, want [6]", torn, ids)
		}
		b, _, _ := e.LogRead(context.Background(), 0, 1<<20)
		if !strings.Contains(string(b), "job 7: ") {
			t.Errorf("%q: not reported:\n%s", torn, b)
		}
		if id := e.LastJob(); id != 7 {
			t.Errorf("%q: last job %d, want 7", torn, id)
		}
		e.Close()
	}
}

// TestJobHistoryV0: the job files replfs wrote before job records
// (testdata/v0, written by that code: status text in jobs/N, the
// report in N.report) are read as that code read them, converted, and
// a repeating trickle stopped by shutdown resumes.
func TestJobHistoryV0(t *testing.T) {
	state := t.TempDir()
	copyDir(t, "testdata/v0/jobs", filepath.Join(state, "jobs"))
	cfg, _ := os.ReadFile("testdata/v0/config")
	os.WriteFile(filepath.Join(state, "config"), cfg, 0600)
	want, err := os.ReadFile("testdata/v0/want")
	if err != nil {
		t.Fatal(err)
	}
	for restart := range 2 {
		e := newEngine(t, state)
		var b strings.Builder
		for id := 1; id <= 8; id++ {
			s, _ := e.JobStatus(id)
			r, _ := e.JobReport(id)
			b.WriteString("== " + strconv.Itoa(id) + " status\n" + s + "== " + strconv.Itoa(id) + " report\n" + r)
		}
		got := b.String()
		if got != string(want) {
			t.Errorf("start %d: history\n%s\nwant\n%s", restart, got, want)
		}
		if ids := e.Jobs(); len(ids) != 9+restart || ids[len(ids)-1] != 9+restart {
			t.Errorf("start %d: jobs %v", restart, ids)
		}
		if st := jobStatus(t, e, 9+restart); !strings.Contains(st, "cmd trickle -R '(00:00 .. 23:59)' local one\n") {
			t.Errorf("start %d: resumed job:\n%s", restart, st)
		}
		e.Close()
	}
	ents, _ := os.ReadDir(filepath.Join(state, "jobs"))
	for _, d := range ents {
		if strings.HasSuffix(d.Name(), ".report") {
			t.Errorf("%s left over", d.Name())
		}
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(to, 0700)
	for _, d := range ents {
		b, err := os.ReadFile(filepath.Join(from, d.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, d.Name()), b, 0600); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzUnpackRecord: no input panics the decoder; a record it accepts
// packs and unpacks to the same bytes, and renders as lines.
func FuzzUnpackRecord(f *testing.F) {
	for _, n := range []string{"4", "7", "8"} {
		b, _ := os.ReadFile("testdata/v0/jobs/" + n)
		rep, _ := os.ReadFile("testdata/v0/jobs/" + n + ".report")
		f.Add(b, rep)
	}
	j := newJob(3, ctl.Verify{Target: "one"}, time.Date(2026, 12, 1, 2, 3, 4, 5, time.UTC), func(error) {})
	j.addResult("vac:x complete 3 blocks")
	j.addReport("a\nb")
	b, err := packRecord(j.record())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b, []byte(nil))
	f.Fuzz(func(t *testing.T, b, rep []byte) {
		r, err := unpackRecord(3, b, rep)
		if err != nil {
			return
		}
		p1, err := packRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := unpackRecord(3, p1, nil)
		if err != nil {
			t.Fatalf("packed record does not unpack: %v\n%s", err, p1)
		}
		p2, _ := packRecord(r2)
		if !bytes.Equal(p1, p2) {
			t.Fatalf("round trip:\n%s\n%s", p1, p2)
		}
		for _, l := range strings.Split(strings.TrimSuffix(r.render(time.Time{}), "\n"), "\n") {
			if k, _, _ := strings.Cut(l, " "); k == "" {
				t.Fatalf("status line %q", l)
			}
		}
	})
}
