package fs

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"9fans.net/go/plan9"
	"9fans.net/go/plan9/srv9p"
)

// conn is the state of one 9P connection.
type conn struct {
	s   *Server
	ctx context.Context // done when the connection goes
	rw  bool            // may write: Server.MayWrite's answer
	g   *gate

	logReads atomic.Int32 // reads of /log in progress
}

// maxBlockedReads is how many reads of /log may wait on one
// connection; past it a read fails at once.
const maxBlockedReads = 256

// fidState is what a fid refers to. A walk in place replaces it.
type fidState struct {
	path string // immutable
	uid  string // immutable

	mu      sync.Mutex // protects following
	opened  bool
	data    []byte // contents read at open: one view for all its reads
	pos     int64  // /log: where this fid's reads have got to
	waited  bool   // /jobs/N/wait: data is the job's final status
	started bool   // /ctl: data is the jobs its writes started
}

var (
	errNotFound    = errors.New("file does not exist")
	errPerm        = errors.New("permission denied")
	errUnknownFid  = errors.New("unknown fid")
	errNotOpen     = errors.New("not open for read")
	errStatTooBig  = errors.New("stat too big for msize")
	errTooManyLogs = fmt.Errorf("too many reads of /log waiting (%d)", maxBlockedReads)
	errReadOnly    = errors.New("read-only connection")
)

// state returns what fid refers to. The gate keeps requests from
// seeing a fid its Tattach or Twalk has not yet set up; a fid without
// a state fails rather than panics all the same.
func state(fid *srv9p.Fid) (*fidState, error) {
	st, ok := fid.Aux().(*fidState)
	if !ok || st == nil {
		return nil, errUnknownFid
	}
	return st, nil
}

func (c *conn) attach(ctx context.Context, fid, afid *srv9p.Fid, user, aname string) (plan9.Qid, error) {
	if aname != "" && aname != "/" {
		return plan9.Qid{}, srv9p.Ebadattach
	}
	fid.SetAux(&fidState{path: "/", uid: user})
	return c.s.qid("/"), nil
}

// walk gives newfid a new state only when every name is found, so a
// walk that fails leaves fid (if it is newfid) as it was.
func (c *conn) walk(ctx context.Context, fid, newfid *srv9p.Fid, names []string) ([]plan9.Qid, error) {
	st, err := state(fid)
	if err != nil {
		return nil, err
	}
	p := st.path
	var qids []plan9.Qid
	for _, elem := range names {
		next, ok := step(p, elem)
		if !ok || !c.exists(next) {
			break
		}
		p = next
		qids = append(qids, c.s.qid(p))
	}
	if len(qids) == 0 && len(names) > 0 {
		return nil, errNotFound
	}
	if len(qids) == len(names) {
		newfid.SetAux(&fidState{path: p, uid: st.uid})
	}
	return qids, nil
}

// step returns the path one name on from p; a name with a slash, or
// empty, or ".", names nothing.
func step(p, elem string) (string, bool) {
	switch {
	case elem == "..":
		return path.Dir(p), true
	case elem == "" || elem == "." || strings.Contains(elem, "/"):
		return "", false
	}
	return path.Join(p, elem), true
}

func (c *conn) open(ctx context.Context, fid *srv9p.Fid, mode uint8) error {
	st, err := state(fid)
	if err != nil {
		return err
	}
	if !c.exists(st.path) {
		return errNotFound
	}
	if !c.rw && (mode&3 == plan9.OWRITE || mode&3 == plan9.ORDWR || mode&plan9.OTRUNC != 0) {
		return errReadOnly
	}
	p := perm(st.path)
	switch mode & 3 {
	case plan9.OREAD:
		if p&0444 == 0 {
			return errPerm
		}
	case plan9.OWRITE:
		if p&0222 == 0 {
			return errPerm
		}
	case plan9.ORDWR:
		if p&0666 != 0666 {
			return errPerm
		}
	default:
		return errPerm
	}
	var data []byte
	if !isDir(st.path) && st.path != "/log" && !isWait(st.path) && mode&3 != plan9.OWRITE {
		// One view of the contents for all of this fid's reads.
		data, err = c.contents(st.path)
		if err != nil {
			return errText(err)
		}
	}
	st.mu.Lock()
	st.data = data
	st.opened = true
	st.mu.Unlock()
	return nil
}

// contents renders a file.
func (c *conn) contents(p string) ([]byte, error) {
	e := c.s.Engine
	switch p {
	case "/ctl":
		return []byte(e.CtlText()), nil
	case "/status":
		return []byte(e.Status()), nil
	case "/rootscor":
		return e.RootScor(), nil
	case "/wrcmd":
		return []byte(e.WrCmd()), nil
	}
	f := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if len(f) == 3 && f[0] == "targets" {
		s, ok := e.TargetStatus(f[1])
		if !ok {
			return nil, errNotFound
		}
		return []byte(s), nil
	}
	if len(f) == 3 && f[0] == "jobs" {
		id, _ := strconv.Atoi(f[1])
		var s string
		var ok bool
		switch f[2] {
		case "status":
			s, ok = e.JobStatus(id)
		case "report":
			s, ok = e.JobReport(id)
		case "ctl", "wait":
			_, ok = e.JobStatus(id)
		}
		if !ok {
			return nil, errNotFound
		}
		return []byte(s), nil
	}
	return nil, errNotFound
}

func (c *conn) read(ctx context.Context, fid *srv9p.Fid, data []byte, offset int64) (int, error) {
	st, err := state(fid)
	if err != nil {
		return 0, err
	}
	// srv9p takes an unopened fid's mode, -1, for OEXEC.
	st.mu.Lock()
	opened := st.opened
	st.mu.Unlock()
	if !opened {
		return 0, errNotOpen
	}
	if isDir(st.path) {
		names := c.children(st.path)
		return fid.ReadDir(data, offset, func(i int, d *plan9.Dir) bool {
			if i >= len(names) {
				return false
			}
			*d = *c.dir(path.Join(st.path, names[i]), st.uid)
			return true
		})
	}
	if st.path == "/log" {
		return c.readLog(ctx, st, data)
	}
	if isWait(st.path) {
		return c.readWait(ctx, fid, st, data, offset)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return fid.ReadBytes(data, offset, st.data)
}

// readLog returns what the log has past the fid's position, waiting for
// it if there is nothing yet. A flush or the client's hang-up ends the
// wait. Past maxBlockedReads on the connection it fails at once.
func (c *conn) readLog(ctx context.Context, st *fidState, data []byte) (int, error) {
	if c.logReads.Add(1) > maxBlockedReads {
		c.logReads.Add(-1)
		return 0, errTooManyLogs
	}
	defer c.logReads.Add(-1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(c.ctx, cancel)
	defer stop()
	st.mu.Lock()
	pos := st.pos
	st.mu.Unlock()
	b, next, err := c.s.Engine.LogRead(ctx, pos, len(data))
	if err != nil {
		return 0, errors.New("interrupted")
	}
	st.mu.Lock()
	if st.pos == pos {
		st.pos = next
	}
	st.mu.Unlock()
	return copy(data, b), nil
}

// isWait reports whether p is a job's wait file.
func isWait(p string) bool {
	return strings.HasPrefix(p, "/jobs/") && path.Base(p) == "wait"
}

// readWait blocks, on the fid's first read, until the job has ended,
// and then reads its final status. A flush or the client's hang-up ends
// the wait ("interrupted"); past maxBlockedReads on the connection it
// fails at once.
func (c *conn) readWait(ctx context.Context, fid *srv9p.Fid, st *fidState, data []byte, offset int64) (int, error) {
	st.mu.Lock()
	waited := st.waited
	st.mu.Unlock()
	if !waited {
		if c.logReads.Add(1) > maxBlockedReads {
			c.logReads.Add(-1)
			return 0, errTooManyLogs
		}
		ctx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(c.ctx, cancel)
		id, _ := strconv.Atoi(path.Base(path.Dir(st.path)))
		_, err := c.s.Engine.WaitJob(ctx, id)
		stop()
		cancel()
		c.logReads.Add(-1)
		if err != nil {
			return 0, errors.New("interrupted")
		}
		s, ok := c.s.Engine.JobStatus(id)
		if !ok {
			return 0, errNotFound
		}
		st.mu.Lock()
		if !st.waited {
			st.data, st.waited = []byte(s), true
		}
		st.mu.Unlock()
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return fid.ReadBytes(data, offset, st.data)
}

func (c *conn) write(ctx context.Context, fid *srv9p.Fid, data []byte, offset int64) (int, error) {
	st, err := state(fid)
	if err != nil {
		return 0, err
	}
	if !c.rw {
		return 0, errReadOnly
	}
	e := c.s.Engine
	switch {
	case st.path == "/ctl":
		var ids []int
		ids, err = e.ExecJobs(ctx, string(data))
		if len(ids) > 0 {
			// Read back on this fid: the jobs started, as /net's clone
			// file tells its connection.
			var b strings.Builder
			for _, id := range ids {
				b.WriteString("job " + strconv.Itoa(id) + "\n")
			}
			st.mu.Lock()
			if !st.started {
				st.data, st.started = nil, true // no longer the configuration
			}
			st.data = append(st.data, b.String()...)
			st.mu.Unlock()
		}
	case st.path == "/wrcmd":
		err = e.ImportWrCmd(ctx, string(data))
	case strings.HasPrefix(st.path, "/jobs/") && path.Base(st.path) == "ctl":
		id, _ := strconv.Atoi(path.Base(path.Dir(st.path)))
		err = e.JobCtl(id, string(data))
	default:
		err = errPerm
	}
	if err != nil {
		return 0, errText(err)
	}
	return len(data), nil
}

func (c *conn) stat(ctx context.Context, fid *srv9p.Fid) (*plan9.Dir, error) {
	st, err := state(fid)
	if err != nil {
		return nil, err
	}
	if !c.exists(st.path) {
		return nil, errNotFound
	}
	d := c.dir(st.path, st.uid)
	// srv9p drops a reply bigger than msize, leaving the client
	// waiting: Rstat is size[4] type[1] tag[2] n[2] stat[n].
	if b, err := d.Bytes(); err != nil || 9+len(b) > int(c.g.msize.Load()) {
		return nil, errStatTooBig
	}
	return d, nil
}

// wstat accepts what shells and FUSE send before writing a control
// file: truncation to length 0 and times; it changes nothing.
func (c *conn) wstat(ctx context.Context, fid *srv9p.Fid, d *plan9.Dir) error {
	st, err := state(fid)
	if err != nil {
		return err
	}
	if !c.rw {
		return errReadOnly
	}
	if perm(st.path)&0222 == 0 {
		return errPerm
	}
	if d.Name != "" || d.Uid != "" || d.Gid != "" || d.Mode != ^plan9.Perm(0) {
		return errPerm
	}
	if d.Length != ^uint64(0) && d.Length != 0 {
		return errPerm
	}
	return nil
}
