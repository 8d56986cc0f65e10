package fossil

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

// openPty opens a new pseudo-terminal: its master, and its slave set up
// as the fixtures' console was (stty -echo -opost): fossil echoes what
// it reads itself, and writes no carriage returns.
func openPty() (*ptyMaster, *os.File, error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open pty: %w", err)
	}
	var n uint32
	err = control(m, func(fd uintptr) error {
		unlock := int32(0)
		if err := ioctl(fd, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
			return err
		}
		return ioctl(fd, syscall.TIOCGPTN, unsafe.Pointer(&n))
	})
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("open pty: %w", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("open pty: %w", err)
	}
	err = control(s, func(fd uintptr) error {
		var t syscall.Termios
		if err := ioctl(fd, syscall.TCGETS, unsafe.Pointer(&t)); err != nil {
			return err
		}
		t.Lflag &^= syscall.ECHO | syscall.ECHOE | syscall.ECHOK | syscall.ECHONL
		t.Oflag &^= syscall.OPOST
		return ioctl(fd, syscall.TCSETS, unsafe.Pointer(&t))
	})
	if err != nil {
		m.Close()
		s.Close()
		return nil, nil, fmt.Errorf("set up pty: %w", err)
	}
	return &ptyMaster{m}, s, nil
}

func control(f *os.File, fn func(fd uintptr) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(fd) }); err != nil {
		return err
	}
	return ferr
}

func ioctl(fd, req uintptr, arg unsafe.Pointer) error {
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(arg)); e != 0 {
		return e
	}
	return nil
}

// ptyMaster is the master side; once every slave is closed (fossil
// has exited), Linux fails its reads with EIO, which is the end.
type ptyMaster struct{ *os.File }

func (m *ptyMaster) Read(b []byte) (int, error) {
	n, err := m.File.Read(b)
	if errors.Is(err, syscall.EIO) {
		err = errPtyClosed
	}
	return n, err
}

const havePty = true
