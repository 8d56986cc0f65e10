//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package fossil

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// openPty opens a new pseudo-terminal (creack/pty knows each system's
// way) and sets its slave up as on Linux: no echo, no output
// processing (stty -echo -opost), since fossil echoes what it reads.
func openPty() (*ptyMaster, *os.File, error) {
	m, s, err := pty.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("open pty: %w", err)
	}
	t, err := unix.IoctlGetTermios(int(s.Fd()), unix.TIOCGETA)
	if err == nil {
		t.Lflag &^= unix.ECHO | unix.ECHOE | unix.ECHOK | unix.ECHONL
		t.Oflag &^= unix.OPOST
		err = unix.IoctlSetTermios(int(s.Fd()), unix.TIOCSETA, t)
	}
	if err != nil {
		m.Close()
		s.Close()
		return nil, nil, fmt.Errorf("set up pty: %w", err)
	}
	return &ptyMaster{m}, s, nil
}

// ptyMaster is the master side; once every slave is closed (fossil has
// exited), the BSDs end its reads with EIO or end of file.
type ptyMaster struct{ *os.File }

func (m *ptyMaster) Read(b []byte) (int, error) {
	n, err := m.File.Read(b)
	if errors.Is(err, syscall.EIO) || err == io.EOF {
		err = errPtyClosed
	}
	return n, err
}

const havePty = true
