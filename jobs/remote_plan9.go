package jobs

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"syscall"

	"replfs/peer"
)

// plan9Remote mounts the other replfs on a directory of its own and
// uses its files.
type plan9Remote struct {
	dir string
	nc  net.Conn
}

// dialRemote mounts the replfs at addr; the mount is made as the
// process's user, whatever user says.
func dialRemote(ctx context.Context, peers *peer.Config, addr, user string) (remote, error) {
	nc, err := dial9p(ctx, peers, addr)
	if err != nil {
		return nil, err
	}
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		nc.Close()
		return nil, &net.OpError{Op: "mount", Net: nc.RemoteAddr().Network(), Err: syscall.EPLAN9}
	}
	f, err := tc.File()
	if err != nil {
		nc.Close()
		return nil, err
	}
	defer f.Close()
	dir, err := os.MkdirTemp("", "cpsys")
	if err != nil {
		nc.Close()
		return nil, err
	}
	if err := syscall.Mount(int(f.Fd()), -1, dir, syscall.MREPL, ""); err != nil {
		nc.Close()
		os.Remove(dir)
		return nil, err
	}
	return &plan9Remote{dir: dir, nc: nc}, nil
}

func (r *plan9Remote) ctl(ctx context.Context, line string) ([]int, error) {
	f, err := os.OpenFile(filepath.Join(r.dir, "ctl"), os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return writeReadBack(f, line)
}

func (r *plan9Remote) read(ctx context.Context, name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(r.dir, name))
}

func (r *plan9Remote) write(ctx context.Context, name, data string) error {
	f, err := os.OpenFile(filepath.Join(r.dir, name), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write([]byte(data))
	return err
}

func (r *plan9Remote) close() error {
	syscall.Unmount("", r.dir)
	os.Remove(r.dir)
	return r.nc.Close()
}
