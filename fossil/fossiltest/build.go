package fossiltest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var fake struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// FakeFossil builds the fakefossil program once per test binary and
// returns its path. It skips the test where the fake cannot run its
// console (no pseudo-terminals: only Linux has ours).
func FakeFossil(t testing.TB) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("fake fossil needs a pseudo-terminal; none on %s", runtime.GOOS)
	}
	fake.once.Do(func() {
		dir, err := os.MkdirTemp("", "fakefossil")
		if err != nil {
			fake.err = err
			return
		}
		fake.path = filepath.Join(dir, "fossil")
		cmd := exec.Command("go", "build", "-o", fake.path, "replfs/fossil/fossiltest/fakefossil")
		fake.out, fake.err = cmd.CombinedOutput()
	})
	if fake.err != nil {
		t.Fatalf("build fakefossil: %v\n%s", fake.err, fake.out)
	}
	return fake.path
}
