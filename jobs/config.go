package jobs

import (
	"os"
	"path/filepath"

	"replfs/ctl"
)

// ConfiguredSource reports whether the state directory's configuration
// names a source venti; without one replfs runs its own.
func ConfiguredSource(stateDir string) (bool, error) {
	b, err := os.ReadFile(filepath.Join(stateDir, "config"))
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	cmds, _ := ctl.ParseSaved(string(b)) // New reports the bad lines
	has := false
	for _, c := range cmds {
		if s, ok := c.(ctl.Source); ok {
			has = !s.Delete
		}
	}
	return has, nil
}
