//go:build !plan9

package fossil

import (
	"os"
	"strconv"
)

// Holders returns the processes other than this one that have path
// open, from /proc/N/fd where the system has it (Linux); elsewhere it
// finds none.
func Holders(path string) ([]int, error) {
	want, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		dir := "/proc/" + e.Name() + "/fd"
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if st, err := os.Stat(dir + "/" + fd.Name()); err == nil && os.SameFile(st, want) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids, nil
}
