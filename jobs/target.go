package jobs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"replfs/venti"
	"replfs/venti/arena"
)

// A target is a venti replfs copies to: named in the configuration, or
// a dial string given to one command.
type target struct {
	// immutable after newTarget
	name  string // as in /targets; the dial string for an ad-hoc one
	addr  string
	dir   string        // statedir/targets/<name>: its cursor
	run   chan struct{} // held while a job copies to it (1-buffered)
	adhoc bool
	limit *limiter        // its byte rate, shared by every job sending to it
	known *venti.KnownSet // trickle: blocks copied to it, not asked about again

	smu         sync.Mutex // serializes saves of the state file
	mu          sync.Mutex // protects following
	state       string     // idle, queued, running, failed
	cursor      arena.Cursor
	runStart    time.Time
	runClumps   int64
	runBytes    int64
	totalClumps int64
	totalBytes  int64
	corrupt     int64
	rate        float64 // bytes a second over the last rateWindow of sending
	samples     []rateSample
	committed   int64 // runBytes when the cursor was last committed
	retries     int
	lastErr     string
	lastErrTime time.Time
	lastOK      time.Time
	arena       string // where the current run is
	offset      int64
	log         logCopy // the root score log it holds, if logKnown
	logKnown    bool
	conns       int             // target -c: connections; 0: as the window needs
	pool        *venti.Pool     // the connections of the run under way
	pools       int             // runs under way (jobs may share a target)
	link        venti.PoolStats // the last run's, when pool is nil
	linkKnown   bool
}

// dial opens the connections a job sends to t through (a venti.Pool,
// its window sizing itself to the path unless window fixes it), giving
// up early if stop closes. The target's status shows the pool's state
// while it lives and its last state after; close it with t.hangup.
func (t *target) dial(ctx context.Context, stop <-chan struct{}, window int) (*venti.Pool, error) {
	dctx, cancel := untilStop(ctx, stop)
	defer cancel()
	t.mu.Lock()
	conns := t.conns
	t.mu.Unlock()
	p, err := venti.DialPool(dctx, t.addr, venti.PoolOptions{Window: window, Conns: conns, Fixed: conns > 0})
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.pool = p
	t.pools++
	t.mu.Unlock()
	return p, nil
}

func (t *target) setConns(n int) {
	t.mu.Lock()
	t.conns = n
	t.mu.Unlock()
}

// hangup closes a pool from dial, keeping its last state for status.
func (t *target) hangup(p *venti.Pool) {
	st := p.Stats()
	p.Close()
	t.mu.Lock()
	t.link, t.linkKnown = st, true
	t.pools--
	if t.pool == p {
		t.pool = nil
	}
	t.mu.Unlock()
}

func newTarget(stateDir, name, addr string, adhoc bool) *target {
	return &target{
		limit: newLimiter(0),
		known: venti.NewKnownSet(1 << 20),
		name:  name,
		addr:  addr,
		dir:   filepath.Join(stateDir, "targets", escapeName(name)),
		run:   make(chan struct{}, 1),
		adhoc: adhoc,
		state: "idle",
	}
}

// escapeName makes a target name (possibly a dial string) a file name.
func escapeName(s string) string {
	return strings.NewReplacer("%", "%25", "/", "%2F").Replace(s)
}

func (t *target) cursorFile() string { return filepath.Join(t.dir, "cursor") }

// begin marks the start of a run.
func (t *target) begin(now time.Time, cur arena.Cursor) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.state = "running"
	t.runStart = now
	t.runClumps, t.runBytes = 0, 0
	t.cursor = cur
	t.samples = []rateSample{{now, 0}}
	t.committed = 0
	t.arena, t.offset = "", 0
}

// rateWindow is how far back the rate a target shows looks: the recent
// rate, so an ETA converges instead of sliding with a run's slow start.
const rateWindow = 30 * time.Second

// A rateSample is a run's bytes sent by a time.
type rateSample struct {
	t     time.Time
	bytes int64
}

// progress records a run's position.
func (t *target) progress(now time.Time, p arena.Progress) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.totalClumps += p.Clumps - t.runClumps
	t.totalBytes += p.Bytes - t.runBytes
	t.runClumps, t.runBytes, t.corrupt = p.Clumps, p.Bytes, p.Corrupt
	t.arena, t.offset = p.Arena, p.Offset
	// The rate over the window: from the oldest sample in it (or the
	// last one before it) to now. Samples are kept a second apart.
	if n := len(t.samples); n == 0 || now.Sub(t.samples[n-1].t) >= time.Second {
		t.samples = append(t.samples, rateSample{now, t.runBytes})
	}
	for len(t.samples) > 2 && now.Sub(t.samples[1].t) > rateWindow {
		t.samples = t.samples[1:]
	}
	if len(t.samples) > 0 {
		s0 := t.samples[0]
		if d := now.Sub(s0.t).Seconds(); d > 0 {
			t.rate = float64(t.runBytes-s0.bytes) / d
		}
	}
}

func (t *target) commit(cur arena.Cursor) {
	t.mu.Lock()
	t.cursor = cur
	t.committed = t.runBytes
	t.mu.Unlock()
}

// end records how a run ended.
func (t *target) end(now time.Time, err error) {
	t.mu.Lock()
	if err != nil {
		t.state = "failed"
		t.lastErr = oneLine(err.Error())
		t.lastErrTime = now
	} else {
		t.state = "idle"
		t.lastOK = now
	}
	t.mu.Unlock()
	t.save()
}

// setError records an error of a run that otherwise succeeded.
func (t *target) setError(now time.Time, msg string) {
	t.mu.Lock()
	t.lastErr = oneLine(msg)
	t.lastErrTime = now
	t.mu.Unlock()
	t.save()
}

// retried counts a retry of a job sending to t.
func (t *target) retried() {
	t.mu.Lock()
	t.retries++
	t.mu.Unlock()
	t.save()
}

func (t *target) stateFile() string { return filepath.Join(t.dir, "state") }

// save keeps what a target's status says of its past (its last state,
// error, success and retries) in its directory, so a restart shows
// them; a named target's only. Failing to save is not the run's
// failure: the status still says it until replfs stops.
func (t *target) save() {
	if t.adhoc {
		return
	}
	t.mu.Lock()
	st := t.state
	if st != "failed" {
		st = "idle"
	}
	text := fmt.Sprintf("# replfs target state: how its last run ended\nstate %s\nlasterror %s %s\nlastsuccess %s\nretries %d\n",
		st, stamp(t.lastErrTime), t.lastErr, stamp(t.lastOK), t.retries)
	t.mu.Unlock()
	t.smu.Lock()
	defer t.smu.Unlock()
	if err := makeDir(t.dir); err == nil {
		writeAtomic(t.stateFile(), []byte(text))
	}
}

// load reads what save kept; a missing or damaged file leaves t as new.
func (t *target) load() {
	b, err := os.ReadFile(t.stateFile())
	if err != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "state":
			if v == "failed" {
				t.state = v
			}
		case "lasterror":
			ts, msg, _ := strings.Cut(v, " ")
			if tm, err := time.Parse(time.RFC3339, ts); err == nil {
				t.lastErrTime, t.lastErr = tm, oneLine(msg)
			}
		case "lastsuccess":
			if tm, err := time.Parse(time.RFC3339, v); err == nil {
				t.lastOK = tm
			}
		case "retries":
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				t.retries = n
			}
		}
	}
}

// stopped records a run stopped at a committed point on request.
func (t *target) stopped() {
	t.mu.Lock()
	t.state = "idle"
	t.mu.Unlock()
}

// snapshot is a target's status at one moment.
type targetSnapshot struct {
	name, addr, state            string
	cursor                       arena.Cursor
	runClumps, runBytes          int64
	totalClumps, totalBytes      int64
	corrupt                      int64
	rate                         float64
	retries                      int
	lastErr                      string
	lastErrTime, lastOK, started time.Time
	rootscor                     string // the log it holds, as logLine says
	sentArena                    string // where sending has reached, past the cursor
	sentOffset                   int64
	uncommitted                  int64 // block bytes sent since the cursor was committed
	link                         venti.PoolStats
	linkKnown                    bool
}

func (t *target) snapshot() targetSnapshot {
	log := t.logLine()
	t.mu.Lock()
	defer t.mu.Unlock()
	link, known := t.link, t.linkKnown
	if t.pool != nil {
		link, known = t.pool.Stats(), true
	}
	return targetSnapshot{rootscor: log, link: link, linkKnown: known,
		name: t.name, addr: t.addr, state: t.state, cursor: t.cursor.Clone(),
		runClumps: t.runClumps, runBytes: t.runBytes, totalClumps: t.totalClumps, totalBytes: t.totalBytes,
		corrupt: t.corrupt, rate: t.rate, retries: t.retries,
		lastErr: t.lastErr, lastErrTime: t.lastErrTime, lastOK: t.lastOK, started: t.runStart,
		sentArena: t.arena, sentOffset: t.offset, uncommitted: t.runBytes - t.committed,
	}
}

// lag is how far a target is behind the source.
type lag struct {
	bytes, clumps int64  // bytes of clump log, as stored; clumps
	data          int64  // bytes of the blocks, uncompressed: what a copy sends
	arena         string // the arena in progress
	offset        int64
	known         bool
}

// render writes the status file: key value lines, in this order.
func (s targetSnapshot) render(l lag, now time.Time) string {
	var b strings.Builder
	kv := func(k string, v any) { fmt.Fprintf(&b, "%s %v\n", k, v) }
	kv("name", s.name)
	kv("addr", s.addr)
	kv("state", s.state)
	if l.known {
		kv("cursor", fmt.Sprintf("%s %#x", orDash(l.arena), l.offset))
		if s.state == "running" && s.sentArena != "" {
			kv("sent", fmt.Sprintf("%s %#x", s.sentArena, s.sentOffset))
		} else {
			kv("sent", fmt.Sprintf("%s %#x", orDash(l.arena), l.offset))
		}
		kv("lagbytes", l.bytes)
		kv("lagclumps", l.clumps)
		kv("lagdata", l.data)
	} else {
		kv("cursor", "-")
		kv("sent", "-")
		kv("lagbytes", "-")
		kv("lagclumps", "-")
		kv("lagdata", "-")
	}
	kv("runclumps", s.runClumps)
	kv("runbytes", s.runBytes)
	kv("totalclumps", s.totalClumps)
	kv("totalbytes", s.totalBytes)
	kv("corrupt", s.corrupt)
	kv("rate", int64(s.rate))
	eta := "-"
	if s.state == "running" && s.rate > 0 && l.known {
		// What is left to send, in the rate's measure (block bytes):
		// the lag past the cursor less what was sent beyond it.
		left := max(0, l.data-s.uncommitted)
		eta = now.Add(time.Duration(float64(left) / s.rate * float64(time.Second))).UTC().Format(time.RFC3339)
	}
	kv("eta", eta)
	kv("retries", s.retries)
	if s.lastErr != "" {
		kv("lasterror", stamp(s.lastErrTime)+" "+s.lastErr)
	} else {
		kv("lasterror", "-")
	}
	kv("lastsuccess", stamp(s.lastOK))
	kv("rootscor", orDash(s.rootscor))
	if s.linkKnown {
		kv("rtt", s.link.RTT.Round(10*time.Microsecond))
		kv("inflight", s.link.Window.Inflight)
		kv("window", s.link.Window.Limit)
		kv("conns", s.link.Conns)
	} else {
		kv("rtt", "-")
		kv("inflight", "-")
		kv("window", "-")
		kv("conns", "-")
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// stamp formats a time as RFC3339 UTC, "-" for none.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// oneLine returns s on one line, at most 400 bytes.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 400 {
		s = s[:400]
	}
	return s
}

func makeDir(dir string) error { return os.MkdirAll(dir, 0700) }
