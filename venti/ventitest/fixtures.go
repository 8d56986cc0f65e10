package ventitest

import (
	"os"
	"path/filepath"
	"testing"
)

// Fixtures returns the directory sub of the plan9port fixtures, which
// live beside the repository in ../shared/fixtures, and skips the test
// with a clear message when they are absent.
func Fixtures(t testing.TB, sub string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("plan9port fixtures not found: no go.mod above the test")
		}
		dir = parent
	}
	fx := filepath.Join(dir, "..", "shared", "fixtures", sub)
	if _, err := os.Stat(fx); err != nil {
		t.Skipf("plan9port fixtures not found in %s (../shared/fixtures is absent): skipping", fx)
	}
	return fx
}

// CopyFixture copies the fixture file sub/name to dst, so a test may
// write to it, and returns dst. It skips as Fixtures does.
func CopyFixture(t testing.TB, sub, name, dst string) string {
	t.Helper()
	src := filepath.Join(Fixtures(t, sub), name)
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0600); err != nil {
		t.Fatal(err)
	}
	return dst
}
