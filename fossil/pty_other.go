//go:build !linux && !plan9 && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly

package fossil

import (
	"fmt"
	"os"
	"runtime"
)

type ptyMaster struct{ *os.File }

func openPty() (*ptyMaster, *os.File, error) {
	return nil, nil, fmt.Errorf("pseudo-terminals not supported on %s", runtime.GOOS)
}

const havePty = false
