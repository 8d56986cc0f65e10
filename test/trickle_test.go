package test

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func statusField(s, key string) string {
	for _, l := range strings.Split(s, "\n") {
		if k, v, _ := strings.Cut(l, " "); k == key {
			return v
		}
	}
	return ""
}

// TestTrickleRepeat: trickle -R "(00:00 .. 23:59)" local backup keeps a
// backup venti refreshed from replfs's own venti while it is written
// to, seen through the target's status over several repeats.
func TestTrickleRepeat(t *testing.T) {
	// The window is shut from 23:59 to midnight; do not start in it.
	if now := time.Now(); now.Hour() == 23 && now.Minute() >= 58 {
		wait := time.Until(time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 5, 0, now.Location()))
		t.Logf("waiting %v for the window", wait)
		time.Sleep(wait)
	}
	r := startReplfs(t, "")
	backup := serveVenti(t, newPartition(t, "256m", "32m"))
	fs := r.mount9(t)
	if err := write9(t, fs, "/ctl", "target backup "+backup.addr+"\nset repeatseconds 2\n"); err != nil {
		t.Fatal(err)
	}
	if got := read9(t, fs, "/ctl"); !strings.Contains(got, "set repeatseconds 2\n") {
		t.Errorf("/ctl %q", got)
	}
	writeBlocks(t, r.venti, 1, 200)
	if err := write9(t, fs, "/ctl", `trickle -R "(00:00 .. 23:59)" local backup`); err != nil {
		t.Fatal(err)
	}
	job := "/jobs/" + listDir(t, fs, "/jobs") + "/status"
	total := 200
	for round := 1; round <= 3; round++ {
		// Wait until the target has everything written so far.
		deadline := time.Now().Add(60 * time.Second)
		var ts string
		for time.Now().Before(deadline) {
			ts = read9(t, fs, "/targets/backup/status")
			if statusField(ts, "lagclumps") == "0" && backup.clumps(t) == total {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if backup.clumps(t) != total || statusField(ts, "lagclumps") != "0" {
			t.Fatalf("round %d: backup has %d clumps of %d:\n%s\n%s", round, backup.clumps(t), total, ts, read9(t, fs, job))
		}
		js := read9(t, fs, job)
		runs, _ := strconv.Atoi(statusField(js, "runs"))
		t.Logf("round %d: %d clumps on backup after %d runs; job %s; target %s", round, total, runs,
			statusField(js, "state"), statusField(ts, "state"))
		if statusField(js, "window") != "(00:00 .. 23:59)" {
			t.Errorf("job status:\n%s", js)
		}
		// More written to the source, for the next repeats to carry.
		writeBlocks(t, r.venti, uint64(round+1), 100)
		total += 100
	}
	js := read9(t, fs, job)
	if runs, _ := strconv.Atoi(statusField(js, "runs")); runs < 3 {
		t.Errorf("%d runs:\n%s", runs, js)
	}
	if st := statusField(js, "state"); st != "sleeping" && st != "running" || st == "sleeping" && !strings.HasPrefix(statusField(js, "detail"), "until next repeat ") {
		t.Errorf("state %q", statusField(js, "state"))
	}
	if err := write9(t, fs, job[:len(job)-len("status")]+"ctl", "cancel"); err != nil {
		t.Fatal(err)
	}
	final, _ := waitJob(t, func() string { return read9(t, fs, job) })
	if statusField(final, "state") != "cancelled" {
		t.Errorf("after cancel:\n%s", final)
	}
}
