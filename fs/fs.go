// Package fs serves replfs's file tree over 9P with
// 9fans.net/go/plan9/srv9p: /ctl, /status, /rootscor, /wrcmd, /log,
// /targets/NAME/status and /jobs/N/{status,ctl,report}. It keeps its own
// locked node table (not srv9p's Tree, which races) and runs one
// srv9p.Server per connection, whose blocking reads end when the
// connection closes, behind a gate (gate.go) that orders pipelined
// requests on a fid and answers the messages srv9p mishandles.
// Nothing here is a promised API.
package fs

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"9fans.net/go/plan9"
	"9fans.net/go/plan9/srv9p"

	"replfs/accept"
)

// Engine is what the file tree shows and drives. jobs.Engine is one;
// tests use a fake.
type Engine interface {
	// ExecJobs runs a write to /ctl and returns the jobs it started.
	ExecJobs(ctx context.Context, text string) ([]int, error)
	CtlText() string
	Status() string
	RootScor() []byte
	WrCmd() string
	ImportWrCmd(ctx context.Context, text string) error
	Targets() []string
	TargetStatus(name string) (string, bool)
	Jobs() []int
	JobStatus(id int) (string, bool)
	JobReport(id int) (string, bool)
	JobCtl(id int, text string) error
	// WaitJob blocks until job id has ended, or ctx is done.
	WaitJob(ctx context.Context, id int) (string, error)
	LogRead(ctx context.Context, pos int64, max int) ([]byte, int64, error)
}

// A Server serves the tree of an Engine. It is safe for concurrent use;
// every connection shares one node table.
type Server struct {
	Engine Engine
	Trace  io.Writer                        // 9P trace, if set
	Logf   func(format string, args ...any) // nil discards
	Now    func() time.Time                 // nil means time.Now
	// MayWrite says whether a connection may write: one it refuses
	// reads every file, and opening any for writing, writing, and
	// wstat fail. Nil means every connection may write.
	MayWrite func(c net.Conn) bool

	// MaxConns bounds the connections Serve serves at once; one more
	// is closed as it arrives. 0 means accept.DefaultMaxConns.
	MaxConns int

	mu   sync.Mutex        // protects following
	qids map[string]uint64 // path of every node seen -> qid path
}

// msize is the largest message we take: 64 KiB of data and the header.
const msize = 64<<10 + plan9.IOHDRSZ

// Serve accepts connections on l until ctx is done, then closes l and
// every connection and waits for them. Accept errors that pass, such
// as running out of file descriptors, are logged and retried; Serve
// returns any other.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	max := s.MaxConns
	if max <= 0 {
		max = accept.DefaultMaxConns
	}
	var wg sync.WaitGroup
	logf := func(format string, a ...any) {
		if s.Logf != nil {
			s.Logf("9P on %s: "+format, append([]any{l.Addr()}, a...)...)
		}
	}
	err := accept.Loop(ctx, l, max, logf, &wg, func(c net.Conn) { s.ServeConn(ctx, c) })
	cancel()
	wg.Wait()
	return err
}

// ServeConn serves one 9P conversation on rwc until the client hangs
// up or ctx is done. Requests blocked in reads end then too: srv9p does
// not cancel them when the connection goes. If rwc is a net.Conn,
// MayWrite decides whether it may write; otherwise it may.
func (s *Server) ServeConn(ctx context.Context, rwc io.ReadWriteCloser) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { rwc.Close() })
	defer stop()
	g := newGate(ctx, rwc)
	c := &conn{s: s, ctx: ctx, g: g, rw: true}
	if nc, ok := rwc.(net.Conn); ok && s.MayWrite != nil {
		c.rw = s.MayWrite(nc)
	}
	srv := &srv9p.Server{
		Attach: c.attach,
		Walk:   c.walk,
		Open:   c.open,
		Read:   c.read,
		Write:  c.write,
		Stat:   c.stat,
		Wstat:  c.wstat,
		Msize:  msize,
		Trace:  s.Trace,
	}
	srv.Serve(g, g)
	rwc.Close()
}

// qid returns the node's qid, giving each path its own number.
func (s *Server) qid(path string) plan9.Qid {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.qids == nil {
		s.qids = map[string]uint64{}
	}
	n, ok := s.qids[path]
	if !ok {
		n = uint64(len(s.qids) + 1)
		s.qids[path] = n
	}
	q := plan9.Qid{Path: n}
	if isDir(path) {
		q.Type = plan9.QTDIR
	}
	return q
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// errText turns an error into Rerror text: one line, at most 128 bytes
// (Plan 9's ERRMAX), joined errors separated by "; ".
func errText(err error) error {
	msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
	if len(msg) > 127 {
		msg = msg[:127]
	}
	return rerror(msg)
}

type rerror string

func (e rerror) Error() string { return string(e) }
