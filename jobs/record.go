package jobs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"replfs/ctl"
)

// A record is a job as data: its command, state, times, counts and
// results, what its status file and report show and what resuming it
// needs. It is kept in statedir/jobs/N, replaced whole (writeFile) when
// the job is listed and when it ends.
//
// The file is one JSON object, version 1:
//
//	version  1
//	id       the job's number, as the file is named
//	verb     the command's verb; args, its arguments as ctl tokenizes them
//	state    one word: queued, running, waiting, retrying, sleeping, done, failed, cancelled
//	detail   words on a waiting, retrying or sleeping state
//	created, started, ended, next, lastrun  times (RFC 3339), absent if none
//	clumps, bytes, blocks, rate, runs       counts, absent if zero
//	phase, window, lasterror, error         one line each, absent if empty
//	info, results, report                   lines
//	stop     why it was stopped: cancel, shutdown, or lost (replfs stopped without ending it)
//	resumed  the job that carries it on
//
// Before version 1 (up to 2026-12) a job's file was its status text
// and N.report its report; readV0 reads those.
type record struct {
	Version  int       `json:"version"`
	ID       int       `json:"id"`
	Verb     string    `json:"verb"`
	Args     []string  `json:"args,omitempty"`
	State    string    `json:"state"`
	Detail   string    `json:"detail,omitempty"` // words on the state: until when, which attempt
	Created  time.Time `json:"created,omitzero"`
	Started  time.Time `json:"started,omitzero"`
	Ended    time.Time `json:"ended,omitzero"`
	Clumps   int64     `json:"clumps,omitempty"`
	Bytes    int64     `json:"bytes,omitempty"`
	Blocks   int64     `json:"blocks,omitempty"` // copy, verify: tree blocks done
	Rate     int64     `json:"rate,omitempty"`   // bytes a second, once ended
	Phase    string    `json:"phase,omitempty"`  // what it is doing now
	Window   string    `json:"window,omitempty"` // trickle: the window it keeps to
	Next     time.Time `json:"next,omitzero"`
	Runs     int       `json:"runs,omitempty"` // trickle: runs started
	LastRun  time.Time `json:"lastrun,omitzero"`
	LastErr  string    `json:"lasterror,omitempty"` // trickle: the error being retried
	Info     []string  `json:"info,omitempty"`      // "key value" lines a job adds
	Results  []string  `json:"results,omitempty"`   // one line per target or root
	Warnings int       `json:"warnings,omitempty"`  // results that are warnings (corrupt source clumps)
	Report   []string  `json:"report,omitempty"`
	Err      string    `json:"error,omitempty"`
	Stop     string    `json:"stop,omitempty"`
	Resumed  int       `json:"resumed,omitempty"`
}

// recordVersion is the version packRecord writes.
const recordVersion = 1

// Why a job was stopped, as a record keeps it.
const (
	stopCancel   = "cancel"   // cancel, /jobs/N/ctl
	stopShutdown = "shutdown" // replfs stopping
	stopLost     = "lost"     // replfs stopped without ending it
)

// maxRecord is the largest job record read.
const maxRecord = 16 << 20

// errStoppedBeforeEnd is the error of a job replfs stopped without
// ending: found queued or running when it starts.
const errStoppedBeforeEnd = "replfs stopped before the job ended"

func packRecord(r record) ([]byte, error) {
	r.Version = recordVersion
	r.valid()
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// unpackRecord decodes job id's record, of either version, checking
// every field: what it returns renders as a well-formed status file.
// report is the version 0 report file's contents, if any.
func unpackRecord(id int, b, report []byte) (record, error) {
	var r record
	if len(bytes.TrimSpace(b)) > 0 && bytes.TrimSpace(b)[0] == '{' {
		d := json.NewDecoder(bytes.NewReader(b))
		d.DisallowUnknownFields()
		if err := d.Decode(&r); err != nil {
			return record{}, fmt.Errorf("bad record: %v", err)
		}
		if d.More() {
			return record{}, errors.New("bad record: data after the record")
		}
		if r.Version != recordVersion {
			return record{}, fmt.Errorf("record version %d, want %d", r.Version, recordVersion)
		}
	} else {
		var err error
		if r, err = readV0(b, report); err != nil {
			return record{}, err
		}
		r.ID = id
	}
	if r.ID != id {
		return record{}, fmt.Errorf("record of job %d", r.ID)
	}
	r.valid()
	if err := r.check(); err != nil {
		return record{}, err
	}
	return r, nil
}

// valid makes the record's text valid UTF-8, as JSON keeps it: an
// invalid byte becomes U+FFFD.
func (r *record) valid() {
	v := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
	vs := func(l []string) []string {
		for i := range l {
			l[i] = v(l[i])
		}
		return l
	}
	r.Verb, r.State, r.Phase, r.Window, r.LastErr, r.Err = v(r.Verb), v(r.State), v(r.Phase), v(r.Window), v(r.LastErr), v(r.Err)
	r.Args, r.Info, r.Results, r.Report = vs(r.Args), vs(r.Info), vs(r.Results), vs(r.Report)
}

// check refuses what would not render as one status file: empty or
// multi-line fields, negative counts, an unknown stop.
func (r record) check() error {
	if r.Verb == "" || r.State == "" {
		return errors.New("bad record: no verb or state")
	}
	if r.Clumps < 0 || r.Bytes < 0 || r.Blocks < 0 || r.Rate < 0 || r.Runs < 0 || r.Resumed < 0 {
		return errors.New("bad record: negative count")
	}
	switch r.Stop {
	case "", stopCancel, stopShutdown, stopLost:
	default:
		return fmt.Errorf("bad record: stop %q", r.Stop)
	}
	lines := [][]string{r.Args, r.Info, r.Results, r.Report,
		{r.Verb, r.State, r.Phase, r.Window, r.LastErr, r.Err}}
	for _, l := range lines {
		for _, s := range l {
			if strings.ContainsAny(s, "\n\r") {
				return errors.New("bad record: a field of several lines")
			}
		}
	}
	for _, s := range r.Info {
		if k, _, _ := strings.Cut(s, " "); k == "" {
			return errors.New("bad record: empty info line")
		}
	}
	return nil
}

// finished reports whether the job has ended.
func (r record) finished() bool {
	return r.State == Done || r.State == Failed || r.State == Cancelled
}

// line returns the record's command as a control message.
func (r record) line() string {
	f := make([]string, 0, 1+len(r.Args))
	for _, a := range append([]string{r.Verb}, r.Args...) {
		f = append(f, ctl.Quote(a))
	}
	return strings.Join(f, " ")
}

// command parses the record's command.
func (r record) command() (ctl.Cmd, error) {
	c, err := ctl.Parse(r.line())
	if err != nil {
		return nil, err
	}
	if c.Verb() != r.Verb {
		return nil, fmt.Errorf("verb %s parsed as %s", r.Verb, c.Verb())
	}
	return c, nil
}

// setCommand records c as the job's command.
func (r *record) setCommand(c ctl.Cmd) {
	f, err := ctl.Tokenize(c.String())
	if err != nil || len(f) == 0 { // String always tokenizes
		f = []string{c.Verb()}
	}
	r.Verb, r.Args = f[0], f[1:]
}

// lost marks a job found unfinished when replfs starts.
func (r *record) lost() {
	r.State = Failed
	r.Err = errStoppedBeforeEnd
	r.Stop = stopLost
	r.Next = time.Time{}
}

// render writes the status file: key value lines, in this order.
func (r record) render(now time.Time) string {
	var b strings.Builder
	kv := func(k string, v any) { fmt.Fprintf(&b, "%s %v\n", k, v) }
	kv("state", r.State)
	if r.Detail != "" && !r.finished() {
		kv("detail", r.Detail)
	}
	kv("cmd", r.line())
	kv("created", stamp(r.Created))
	kv("started", stamp(r.Started))
	kv("ended", stamp(r.Ended))
	kv("clumps", r.Clumps)
	kv("bytes", r.Bytes)
	kv("blocks", r.Blocks)
	kv("rate", r.rate(now))
	if r.Phase != "" && !r.finished() {
		kv("phase", r.Phase)
	}
	if r.Window != "" {
		kv("window", r.Window)
	}
	if !r.Next.IsZero() {
		kv("next", stamp(r.Next))
	}
	if r.Runs > 0 {
		kv("runs", r.Runs)
		kv("lastrun", stamp(r.LastRun))
	}
	if r.LastErr != "" {
		kv("lasterror", r.LastErr)
	}
	if r.Warnings > 0 {
		kv("warnings", r.Warnings)
	}
	for _, l := range r.Info {
		b.WriteString(l + "\n")
	}
	for _, l := range r.Results {
		kv("result", l)
	}
	if r.Err != "" {
		kv("error", r.Err)
	}
	if r.Resumed > 0 {
		kv("resumed", fmt.Sprintf("job %d", r.Resumed))
	}
	return b.String()
}

// rate is the job's bytes a second: as recorded once it ended, else
// so far.
func (r record) rate(now time.Time) int64 {
	if r.finished() || r.Started.IsZero() {
		return r.Rate
	}
	if d := now.Sub(r.Started).Seconds(); d > 0 {
		return int64(float64(r.Bytes) / d)
	}
	return 0
}

// reportText renders the report.
func (r record) reportText() string {
	if len(r.Report) == 0 {
		return ""
	}
	return strings.Join(r.Report, "\n") + "\n"
}

// readV0 reads a job file of before version 1: the status text as the
// job rendered it (complete lines, the first two state and cmd), and
// its report. Lines whose key is not a status key are the job's info
// lines, in order. The stop reason is found from the error text, the
// only place that version kept it.
func readV0(status, report []byte) (record, error) {
	s := string(status)
	if !strings.HasSuffix(s, "\n") || !strings.HasPrefix(s, "state ") || !strings.Contains(s, "\ncmd ") {
		return record{}, errors.New("torn status file")
	}
	var r record
	var err error
	num := func(v string) int64 {
		var n int64
		if _, e := fmt.Sscan(v, &n); e != nil && err == nil {
			err = fmt.Errorf("bad number %q", v)
		}
		return n
	}
	tm := func(v string) time.Time {
		if v == "-" {
			return time.Time{}
		}
		t, e := time.Parse(time.RFC3339, v)
		if e != nil && err == nil {
			err = fmt.Errorf("bad time %q", v)
		}
		return t
	}
	for _, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		k, v, _ := strings.Cut(l, " ")
		switch k {
		case "state":
			r.State = v
		case "cmd":
			f, e := ctl.Tokenize(v)
			if e != nil || len(f) == 0 {
				return record{}, fmt.Errorf("bad cmd %q", v)
			}
			r.Verb, r.Args = f[0], f[1:]
		case "created":
			r.Created = tm(v)
		case "started":
			r.Started = tm(v)
		case "ended":
			r.Ended = tm(v)
		case "clumps":
			r.Clumps = num(v)
		case "bytes":
			r.Bytes = num(v)
		case "blocks":
			r.Blocks = num(v)
		case "rate":
			r.Rate = num(v)
		case "phase":
			r.Phase = v
		case "window":
			r.Window = v
		case "next":
			r.Next = tm(v)
		case "runs":
			r.Runs = int(num(v))
		case "lastrun":
			r.LastRun = tm(v)
		case "lasterror":
			r.LastErr = v
		case "warnings":
			r.Warnings = int(num(v))
		case "result":
			r.Results = append(r.Results, v)
		case "error":
			r.Err = v
		case "resumed":
			var n int
			if _, e := fmt.Sscanf(v, "job %d", &n); e != nil {
				return record{}, fmt.Errorf("bad resumed %q", v)
			}
			r.Resumed = n
		default:
			r.Info = append(r.Info, l)
		}
	}
	if err != nil {
		return record{}, err
	}
	switch r.Err {
	case errCancelled.Error():
		r.Stop = stopCancel
	case errShutdown.Error():
		r.Stop = stopShutdown
	case errStoppedBeforeEnd:
		r.Stop = stopLost
	}
	if r.State != Cancelled && r.Stop != stopLost {
		r.Stop = ""
	}
	if rep := strings.TrimSuffix(string(report), "\n"); rep != "" {
		r.Report = strings.Split(rep, "\n")
	}
	return r, nil
}
