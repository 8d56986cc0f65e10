package fossil

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// fossilstart needs a pseudo-terminal on the systems plan9port users
// run: macOS and the BSDs build with a real one (not pty_other.go's
// refusal), and the whole of replfs builds there.
func TestPtyPlatforms(t *testing.T) {
	if testing.Short() {
		t.Skip("cross builds skipped in -short mode")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	for _, goos := range []string{"darwin", "freebsd", "openbsd", "netbsd"} {
		env := append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0")
		cmd := exec.Command("go", "list", "-f", "{{join .GoFiles \" \"}}", ".")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: go list: %v\n%s", goos, err, out)
		}
		files := " " + strings.TrimSpace(string(out)) + " "
		if !strings.Contains(files, " pty_bsd.go ") || strings.Contains(files, " pty_other.go ") {
			t.Errorf("%s builds fossil from %s: no pseudo-terminal", goos, files)
		}
		cmd = exec.Command("go", "build", "replfs/...")
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: go build: %v\n%s", goos, err, out)
		}
	}
}
