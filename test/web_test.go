package test

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// chromium returns the headless browser, or skips saying why.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium here (.ci/run installs Debian's)")
	return ""
}

// dumpDOM loads url in headless Chromium and returns the DOM it
// renders, writing a screenshot to shot.
func dumpDOM(t *testing.T, bin, url, shot string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	common := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--user-data-dir=" + t.TempDir(), "--window-size=1280,1400"}
	out, err := exec.CommandContext(ctx, bin, append(common, "--dump-dom", url)...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom %s: %v", url, err)
	}
	if b, err := exec.CommandContext(ctx, bin, append(common, "--screenshot="+shot, url)...).CombinedOutput(); err != nil {
		t.Fatalf("chromium --screenshot: %v\n%s", err, b)
	}
	if st, err := os.Stat(shot); err != nil || st.Size() == 0 {
		t.Fatalf("no screenshot: %v", err)
	}
	return string(out)
}

// Headless Chromium loads / and a target's page while a ventiprog runs:
// the rendered DOM shows the target, its state and lag, and a plot with
// data points. Screenshots go in the test's directory (REPLFS_SHOTS
// names another to keep them).
func TestStatusPageInBrowser(t *testing.T) {
	bin := chromium(t)
	hport := freePort(t)
	haddr := "tcp!127.0.0.1!" + strconv.Itoa(hport)
	r := startReplfsArgs(t, "", []string{"REPLFS_SAMPLE=300ms"}, "-h", haddr)
	writeBlocks(t, r.venti, 3, 6000) // 49 MB
	tgt := serveVenti(t, newPartition(t, "256m", "16m"))
	fs := r.mount9(t)
	for _, c := range []string{"target -r 4m backup " + tgt.addr, "ventiprog backup"} {
		if err := write9(t, fs, "/ctl", c); err != nil {
			t.Fatal(err)
		}
	}
	base := "http://127.0.0.1:" + strconv.Itoa(hport)
	// Wait until the copy runs and a few samples are taken.
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := read9(t, fs, "/targets/backup/status")
		if strings.Contains(st, "state running") && !strings.Contains(st, "rate 0\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("copy not under way:\n%s", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	shots := t.TempDir()
	if d := os.Getenv("REPLFS_SHOTS"); d != "" {
		shots = d
	}
	dom := dumpDOM(t, bin, base+"/", filepath.Join(shots, "index.png"))
	row := regexp.MustCompile(`(?s)<tr class="target" data-name="backup">.*?</tr>`).FindString(dom)
	if row == "" {
		t.Fatalf("no backup row in the DOM:\n%s", dom)
	}
	if !strings.Contains(row, `class="state running"`) || !regexp.MustCompile(`class="lag">[1-9][0-9]*<`).MatchString(row) {
		t.Errorf("backup row: %s", row)
	}
	if !strings.Contains(dom, "ventiprog backup") {
		t.Error("the running job is not on the page")
	}
	tdom := dumpDOM(t, bin, base+"/targets/backup", filepath.Join(shots, "target.png"))
	m := regexp.MustCompile(`<svg id="lag-hour"[^>]*data-points="([0-9]+)"`).FindStringSubmatch(tdom)
	if m == nil {
		t.Fatalf("no lag plot in the target's DOM:\n%.3000s", tdom)
	}
	if n, _ := strconv.Atoi(m[1]); n < 3 {
		t.Errorf("lag plot has %d points", n)
	}
	pts := regexp.MustCompile(`(?s)<svg id="lag-hour".*?<polyline[^>]*points="([^"]+)"`).FindStringSubmatch(tdom)
	if pts == nil || len(strings.Fields(pts[1])) < 3 {
		t.Errorf("lag polyline: %v", pts)
	}
	// /metrics and /status.json answer too.
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(b), `replfs_target_lag_data_bytes{target="backup"}`) {
		t.Errorf("/metrics:\n%.2000s", b)
	}
	t.Logf("screenshots in %s", shots)

	// Once the job has ended, /metrics says what the status file says.
	write9(t, fs, "/ctl", "cancel 1")
	waitJob(t, func() string { return read9(t, fs, "/jobs/1/status") })
	st := read9(t, fs, "/targets/backup/status")
	res, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	for key, fam := range map[string]string{"lagbytes": "replfs_target_lag_bytes", "lagdata": "replfs_target_lag_data_bytes",
		"lagclumps": "replfs_target_lag_clumps", "totalbytes": "replfs_target_sent_bytes_total", "retries": "replfs_target_retries_total"} {
		want := statusField(st, key)
		line := regexp.MustCompile(`(?m)^` + fam + `\{target="backup"\} (\S+)$`).FindStringSubmatch(string(b))
		if line == nil || line[1] != want {
			t.Errorf("%s = %v, status says %s %s", fam, line, key, want)
		}
	}
}
