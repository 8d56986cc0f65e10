package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runCmdFor is runCmd with a context that ends after d: a command that
// would serve returns then.
func runCmdFor(t *testing.T, d time.Duration, vars map[string]string, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{
		stdin:  strings.NewReader(""),
		stdout: &out,
		stderr: &errb,
		getenv: func(k string) string { return vars[k] },
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	st := run(ctx, e, args)
	return st, errb.String()
}

// TestPublicVentiNeedsA: the embedded venti (-V, $venti) and venti
// serve (-a, -h) refuse an address that is not loopback without -A, as
// the 9P listeners do: the venti is unauthenticated and writable. No
// address is announced.
func TestPublicVentiNeedsA(t *testing.T) {
	dir := t.TempDir()
	part := filepath.Join(dir, "arenas")
	if st, _, errs := runCmd(t, "", nil, "venti", "fmt", "-a", "8m", "-s", "16m", part); st != 0 {
		t.Fatalf("venti fmt: %s", errs)
	}
	const public = "tcp!192.0.2.1!17034" // TEST-NET: never this host's
	for _, tt := range []struct {
		name string
		vars map[string]string
		args []string
		want string
	}{
		{"9P -a", nil, []string{"-d", dir, "-s", "", "-a", "tcp!192.0.2.1!5640"},
			"replfs serve: tcp!192.0.2.1!5640 is not a loopback address: anyone who reaches it can write ctl; serve tls! to admit pinned peers only, or give -A to allow it\n"},
		{"-V", nil, []string{"-d", dir, "-s", "", "-S", "16m", "-V", public},
			"replfs serve: embedded venti: " + public + " is not a loopback address: anyone who reaches it can read and write the venti; give -A to allow it\n"},
		{"$venti", map[string]string{"venti": "tcp!*!17034"}, []string{"-d", dir, "-s", "", "-S", "16m"},
			"replfs serve: embedded venti: tcp!*!17034 is not a loopback address: anyone who reaches it can read and write the venti; give -A to allow it\n"},
		{"venti serve -a", nil, []string{"venti", "serve", "-a", public, part},
			"replfs venti serve: " + public + " is not a loopback address: anyone who reaches it can read and write the venti; give -A to allow it\n"},
		{"venti serve -h", nil, []string{"venti", "serve", "-a", "tcp!127.0.0.1!0", "-h", "tcp!*!8000", part},
			"replfs venti serve: tcp!*!8000 is not a loopback address: anyone who reaches it can read and sync the venti; give -A to allow it\n"},
	} {
		st, errs := runCmdFor(t, 5*time.Second, tt.vars, tt.args...)
		if st != 1 || errs != tt.want {
			t.Errorf("%s: status %d, stderr %q; want 1, %q", tt.name, st, errs, tt.want)
		}
	}
}

// TestNamespaceDirChecked: the socket is posted only in a name space
// directory owned by us that no one else can write, as plan9port
// checks; a missing one is made with mode 0700.
func TestNamespaceDirChecked(t *testing.T) {
	base := t.TempDir()
	ns := filepath.Join(base, "ns.glenda.:0")
	t.Setenv("NAMESPACE", ns)
	l, path, err := postUnix("replfs")
	if err != nil {
		t.Fatalf("new directory: %v", err)
	}
	l.Close()
	os.Remove(path)
	if fi, err := os.Stat(ns); err != nil || fi.Mode().Perm() != 0700 {
		t.Fatalf("made %v, %v; want mode 0700", fi.Mode(), err)
	}

	post := func() error {
		l, path, err := postUnix("replfs")
		if err == nil {
			l.Close()
			os.Remove(path)
		}
		return err
	}
	os.Chmod(ns, 0777)
	if err := post(); err == nil || err.Error() != "bad name space directory "+ns+": mode 0777 lets others replace the socket" {
		t.Errorf("mode 0777: %v", err)
	}
	os.Chmod(ns, 0720)
	if err := post(); err == nil || !strings.Contains(err.Error(), "mode 0720") {
		t.Errorf("mode 0720: %v", err)
	}

	os.Chmod(ns, 0700)
	link := filepath.Join(base, "link")
	os.Symlink(ns, link)
	t.Setenv("NAMESPACE", link)
	if err := post(); err == nil || err.Error() != "bad name space directory "+link+": a symbolic link" {
		t.Errorf("symbolic link: %v", err)
	}
	t.Setenv("NAMESPACE", ns)

	if os.Getuid() != 0 {
		t.Skip("not root: cannot give the directory to another user")
	}
	if err := os.Chown(ns, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := post(); err == nil || err.Error() != "bad name space directory "+ns+": owned by uid 65534, not 0" {
		t.Errorf("owned by nobody: %v", err)
	}
}

// Startup lines give addresses as dial strings.
func TestStartupDialStrings(t *testing.T) {
	part := filepath.Join(t.TempDir(), "p")
	if st, _, errs := runCmd(t, "", nil, "venti", "fmt", "-s", "64m", part); st != 0 {
		t.Fatal(errs)
	}
	_, errs := runCmdFor(t, 500*time.Millisecond, nil, "venti", "serve", "-a", "tcp!127.0.0.1!0", "-h", "tcp!127.0.0.1!0", part)
	for _, re := range []string{`serving venti on tcp!127\.0\.0\.1![0-9]+\n`, `http on tcp!127\.0\.0\.1![0-9]+\n`} {
		if !regexp.MustCompile(re).MatchString(errs) {
			t.Errorf("stderr does not match %s:\n%s", re, errs)
		}
	}
}
