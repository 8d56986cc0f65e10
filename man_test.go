package replfs_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// replfs.4 renders without a warning under groff's man macros and, with
// PLAN9 set, under Plan 9's (plan9port's nroff), reaching its last
// section either way.
func TestManPage(t *testing.T) {
	// Read here too, so that go test's cache sees the page change.
	if _, err := os.ReadFile("docs/replfs.4"); err != nil {
		t.Fatal(err)
	}
	type roff struct{ name, bin string }
	var roffs []roff
	if p, err := exec.LookPath("nroff"); err == nil {
		roffs = append(roffs, roff{"groff", p})
	}
	if root := os.Getenv("PLAN9"); root != "" {
		roffs = append(roffs, roff{"plan9port", filepath.Join(root, "bin", "nroff")})
	}
	if len(roffs) == 0 {
		t.Skip("no nroff here (and PLAN9 not set)")
	}
	for _, r := range roffs {
		args := []string{"-man", "docs/replfs.4"}
		if r.name == "groff" {
			args = []string{"-man", "-ww", "docs/replfs.4"}
		}
		cmd := exec.Command(r.bin, args...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if r.name == "plan9port" {
			cmd.Env = append(os.Environ(), "PATH="+os.Getenv("PATH")+":"+filepath.Join(os.Getenv("PLAN9"), "bin"))
		}
		if err := cmd.Run(); err != nil {
			t.Errorf("%s nroff: %v\n%s", r.name, err, errb.String())
			continue
		}
		if errb.Len() > 0 {
			t.Errorf("%s nroff warns:\n%s", r.name, errb.String())
		}
		text := string(out.Bytes())
		if !strings.Contains(text, "BUGS") && !strings.Contains(text, "B\bBU\bUG\bGS\bS") {
			t.Errorf("%s nroff output has no BUGS section: cut short?", r.name)
		}
	}
}
