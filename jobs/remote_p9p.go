//go:build !plan9

package jobs

import (
	"context"
	"io"

	"9fans.net/go/plan9"
	"9fans.net/go/plan9/client"

	"replfs/peer"
)

// p9pRemote talks 9P with 9fans.net/go/plan9/client. Its calls take no
// context: the connection is closed when ctx ends, which ends them.
type p9pRemote struct {
	conn *client.Conn
	fsys *client.Fsys
	stop func() bool
}

// dialRemote attaches to the replfs at addr as user ("" means none).
func dialRemote(ctx context.Context, peers *peer.Config, addr, user string) (remote, error) {
	nc, err := dial9p(ctx, peers, addr)
	if err != nil {
		return nil, err
	}
	c, err := client.NewConn(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if user == "" {
		user = "none"
	}
	fsys, err := c.Attach(nil, user, "")
	if err != nil {
		c.Close()
		return nil, err
	}
	return &p9pRemote{conn: c, fsys: fsys, stop: context.AfterFunc(ctx, func() { c.Close() })}, nil
}

func (r *p9pRemote) ctl(ctx context.Context, line string) ([]int, error) {
	f, err := r.fsys.Open("ctl", plan9.ORDWR)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return writeReadBack(f, line)
}

func (r *p9pRemote) read(ctx context.Context, name string) ([]byte, error) {
	f, err := r.fsys.Open(name, plan9.OREAD)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

func (r *p9pRemote) write(ctx context.Context, name, data string) error {
	f, err := r.fsys.Open(name, plan9.OWRITE)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write([]byte(data))
	return err
}

func (r *p9pRemote) close() error {
	r.stop()
	return r.conn.Close()
}
