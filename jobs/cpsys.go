package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"replfs/ctl"
	"replfs/peer"
	"replfs/rootscor"
	"replfs/venti"
)

// A remote is another replfs, reached over 9P.
type remote interface {
	// ctl writes a control message to /ctl and returns the jobs it
	// started, read back on the same open file.
	ctl(ctx context.Context, line string) ([]int, error)
	read(ctx context.Context, name string) ([]byte, error)
	write(ctx context.Context, name, data string) error
	close() error
}

// remoteJobPoll is how often a remote job's status is read.
const remoteJobPoll = 250 * time.Millisecond

// runRemote runs one command that starts one job on r and waits for it;
// it returns the job's status. If ctx ends first, the remote job is
// cancelled.
func runRemote(ctx context.Context, j *job, r remote, name, line string) (map[string][]string, error) {
	ids, err := r.ctl(ctx, line)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", name, line, err)
	}
	if len(ids) != 1 {
		return nil, fmt.Errorf("%s: %s started %d jobs", name, line, len(ids))
	}
	id := ids[0]
	file := "jobs/" + strconv.Itoa(id) + "/status"
	j.setPhase("%s: job %d: %s", name, id, line)
	for {
		b, err := r.read(ctx, file)
		if err != nil {
			if ctx.Err() != nil {
				r.write(context.WithoutCancel(ctx), "jobs/"+strconv.Itoa(id)+"/ctl", "cancel")
				return nil, context.Cause(ctx)
			}
			return nil, fmt.Errorf("%s: %s: %w", name, file, err)
		}
		st := parseStatus(string(b))
		switch state := first(st["state"]); state {
		case Done:
			return st, nil
		case Failed, Cancelled:
			return st, fmt.Errorf("%s: job %d %s: %s", name, id, state, first(st["error"]))
		}
		select {
		case <-time.After(remoteJobPoll):
		case <-ctx.Done():
			r.write(context.WithoutCancel(ctx), "jobs/"+strconv.Itoa(id)+"/ctl", "cancel")
			return nil, context.Cause(ctx)
		}
	}
}

// parseStatus splits a status file into its "key value" lines.
func parseStatus(s string) map[string][]string {
	m := map[string][]string{}
	for _, l := range strings.Split(s, "\n") {
		k, v, _ := strings.Cut(l, " ")
		if k != "" {
			m[k] = append(m[k], v)
		}
	}
	return m
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// cpsys clones SRC's fossil onto DST's, as the ANTS cpsys did with rx,
// but through the two replfs servers: record DST's current root (a
// safety copy; it may have none), record SRC's last archive, read that
// line back from SRC's rootscor, and re-root DST's own configured
// partition on it from DST's own venti.
func (e *Engine) cpsys(ctx context.Context, j *job, c ctl.Cpsys) error {
	ctx, release := untilStop(ctx, j.stop)
	defer release()
	src, err := dialRemote(ctx, e.opts.Peers, c.Src, e.opts.User)
	if err != nil {
		return fmt.Errorf("cpsys: %s: %w", c.Src, err)
	}
	defer src.close()
	dst, err := dialRemote(ctx, e.opts.Peers, c.Dst, e.opts.User)
	if err != nil {
		return fmt.Errorf("cpsys: %s: %w", c.Dst, err)
	}
	defer dst.close()

	if st, err := runRemote(ctx, j, dst, c.Dst, "fossilize"); err != nil {
		if ctx.Err() != nil {
			return err
		}
		j.addInfo("note " + err.Error())
	} else {
		j.addInfo("saved " + c.Dst + " " + first(st["result"]))
	}
	st, err := runRemote(ctx, j, src, c.Src, "fossilize")
	if err != nil {
		return fmt.Errorf("cpsys: %w", err)
	}
	line := first(st["result"])
	rec, err := rootscor.ParseRecord(line)
	if err != nil {
		return fmt.Errorf("cpsys: %s: fossilize said %q", c.Src, line)
	}
	log, err := src.read(ctx, "rootscor")
	if err != nil {
		return fmt.Errorf("cpsys: %s: rootscor: %w", c.Src, err)
	}
	if !strings.Contains("\n"+string(log), "\n"+line+"\n") {
		return fmt.Errorf("cpsys: %s: %q is not in its rootscor", c.Src, line)
	}
	j.addInfo("source " + c.Src + " " + line)
	st, err = runRemote(ctx, j, dst, c.Dst, "fosreset vac:"+rec.Score.String())
	if err != nil {
		return fmt.Errorf("cpsys: %w", err)
	}
	for _, r := range st["result"] {
		j.addInfo(c.Dst + " " + r)
	}
	j.addResult(fmt.Sprintf("%s re-rooted on vac:%v from %s", c.Dst, rec.Score, c.Src))
	return nil
}

// dial9p connects to a 9P dial string (9fs's port by default); a tls!
// address must be the peer peers pins for it.
func dial9p(ctx context.Context, peers *peer.Config, addr string) (net.Conn, error) {
	if peer.IsTLS(addr) {
		if peers == nil {
			return nil, errors.New("no identity to dial tls! addresses with")
		}
		return peers.Dial(ctx, addr)
	}
	network, a, err := venti.ParseDialString(addr, "9fs")
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	return d.DialContext(ctx, network, a)
}

// writeReadBack writes a control message to an open /ctl and reads
// back the jobs it started.
func writeReadBack(f interface {
	io.Writer
	io.ReaderAt
}, line string) ([]int, error) {
	if _, err := f.Write([]byte(line + "\n")); err != nil {
		return nil, err
	}
	b := make([]byte, 8192)
	n, err := f.ReadAt(b, 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return parseJobs(string(b[:n])), nil
}

// parseJobs reads the "job N" lines /ctl gives back after a write.
func parseJobs(s string) []int {
	var ids []int
	for _, l := range strings.Split(s, "\n") {
		if n, ok := strings.CutPrefix(l, "job "); ok {
			if id, err := strconv.Atoi(n); err == nil {
				ids = append(ids, id)
			}
		}
	}
	return ids
}
