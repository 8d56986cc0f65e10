package fossil

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"replfs/fossil/fossiltest"
	"replfs/venti/ventitest"
)

// TestStartFakeFossil starts the fake fossil on a pseudo-terminal as
// fossilstart does, sends the seed's commands, snapshots, and stops it:
// the console must be its controlling terminal (it opens /dev/tty), the
// archive line must arrive, and Stop must sync and halt before the kill.
func TestStartFakeFossil(t *testing.T) {
	prog := fossiltest.FakeFossil(t)
	dir := t.TempDir()
	part := filepath.Join(dir, "fossil.part")
	ventitest.CopyFixture(t, "fossil", "fossil-v.part", part)
	logf := filepath.Join(dir, "fake.log")
	const score = "0842818bc4e6acc5ed5ca517cb45cb760844e9ed"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := Start(ctx, StartOptions{Program: prog, Partition: part, Venti: "tcp!127.0.0.1!1",
		StateDir: filepath.Join(dir, "state"),
		Env:      []string{"FAKEFOSSIL_LOG=" + logf, "FAKEFOSSIL_ARCHIVE=" + score, "FAKEFOSSIL_DELAY=200ms"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range SeedCommands(part, "backup", "tcp!127.0.0.1!5640") {
		if out, err := p.Console.Cmd(ctx, cmd); err != nil || out != "" {
			t.Fatalf("%s: %q %v", cmd, out, err)
		}
	}
	if out, err := p.Console.Cmd(ctx, "fsys main snap -a"); err != nil || out != "" {
		t.Fatalf("snap: %q %v", out, err)
	}
	s, err := p.Console.WaitArchive(ctx, 0)
	if err != nil || s.String() != score {
		t.Fatalf("archive %v %v", s, err)
	}
	if last, err := Last(part); err != nil || last != s {
		t.Errorf("last %v %v", last, err)
	}
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Exited():
	default:
		t.Fatal("fossil still running after Stop")
	}
	b, _ := os.ReadFile(logf)
	got := strings.Split(strings.TrimSpace(string(b)), "\n")
	want := []string{"start -t"}
	want = append(want, SeedCommands(part, "backup", "tcp!127.0.0.1!5640")...)
	want = append(want, "fsys main snap -a", "fsys all sync", "fsys all halt", "exit terminated")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("fossil saw\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := p.Console.Cmd(ctx, "fsys main sync"); err == nil {
		t.Errorf("command after stop succeeded")
	}
}

// TestStartFails: a fossil that dies at start is an error naming its
// last words, not a hang.
func TestStartFails(t *testing.T) {
	fossiltest.FakeFossil(t) // Linux only
	dir := t.TempDir()
	script := filepath.Join(dir, "fossil")
	os.WriteFile(script, []byte("#!/bin/sh\necho 'cannot open partition' >&2\nexit 1\n"), 0700)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := Start(ctx, StartOptions{Program: script, Partition: filepath.Join(dir, "p"), StateDir: dir})
	if err == nil || !strings.Contains(err.Error(), "cannot open partition") {
		t.Errorf("start of a failing fossil: %v", err)
	}
	if ctx.Err() != nil {
		t.Errorf("start waited for the timeout")
	}

}
