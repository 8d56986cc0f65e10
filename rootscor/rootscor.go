// Package rootscor keeps the root score log: every fossil archive score
// replfs records, one text line each, appended, fsynced, never
// rewritten. Nothing here is a promised API.
//
// # Format
//
// A record is one line:
//
//	vac:SCORE partition venti fsname time
//
// fields separated by single blanks, time in RFC3339 UTC. The file keeps
// the ANTS scripts' rootscor shape (vac:SCORE partition venti), with the
// file system name and time added; their three-field lines read too.
// Fields may not hold blanks. A line is committed once its newline is on
// disk: on open, a last line without one (a write cut short by a crash)
// is dropped, and nothing before it is touched. Lines that are not
// records (the old ventiprog appended wrarena commands) are kept and
// skipped.
package rootscor

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"replfs/venti"
)

// A Record is one recorded root score.
type Record struct {
	Score     venti.Score
	Partition string // the fossil partition
	Venti     string // the venti its blocks are in
	Fsname    string // the file system's name; "" in old logs
	Time      time.Time
}

// String returns the record's line, without the newline.
func (r Record) String() string {
	f := []string{"vac:" + r.Score.String(), field(r.Partition), field(r.Venti)}
	if r.Fsname != "" || !r.Time.IsZero() {
		f = append(f, field(r.Fsname), r.Time.UTC().Format(time.RFC3339))
	}
	return strings.Join(f, " ")
}

// field stands in "-" for an empty field.
func field(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func unfield(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

// ParseRecord parses a record line (with or without its newline).
func ParseRecord(line string) (Record, error) {
	var r Record
	f := strings.Fields(strings.TrimSuffix(line, "\n"))
	if len(f) != 3 && len(f) != 5 {
		return r, fmt.Errorf("bad root score record %q", line)
	}
	label, s, err := venti.ParseLabeledScore(f[0])
	if err != nil || label != "vac" {
		return r, fmt.Errorf("bad root score record %q", line)
	}
	r.Score, r.Partition, r.Venti = s, unfield(f[1]), unfield(f[2])
	if len(f) == 5 {
		r.Fsname = unfield(f[3])
		if r.Time, err = time.Parse(time.RFC3339, f[4]); err != nil {
			return r, fmt.Errorf("bad time in root score record %q", line)
		}
	}
	return r, nil
}

// A Log is an open root score log. It is safe for concurrent use.
type Log struct {
	path string

	mu   sync.Mutex // protects following
	f    *os.File
	data []byte // the file's committed contents
	recs []Record
}

// Open opens the log at path, creating it (mode 0600) if needed, and
// drops a torn last line.
func Open(path string) (*Log, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0600)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		f.Close()
		return nil, err
	}
	if i := bytes.LastIndexByte(data, '\n'); i+1 != len(data) {
		// A line cut short by a crash: it was never acknowledged.
		data = data[:i+1]
		if err := f.Truncate(int64(len(data))); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
	}
	l := &Log{path: path, f: f, data: data}
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if r, err := ParseRecord(line); err == nil {
			l.recs = append(l.recs, r)
		}
	}
	return l, nil
}

var errField = errors.New("root score record fields may not hold blanks")

// Append adds r to the log and makes it durable before returning.
func (l *Log) Append(r Record) error {
	for _, s := range []string{r.Partition, r.Venti, r.Fsname} {
		if strings.ContainsAny(s, " \t\n") {
			return errField
		}
	}
	line := r.String() + "\n"
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("root score log closed")
	}
	if _, err := l.f.WriteAt([]byte(line), int64(len(l.data))); err != nil {
		return fmt.Errorf("append %s: %w", l.path, err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("append %s: %w", l.path, err)
	}
	l.data = append(l.data, line...)
	l.recs = append(l.recs, r)
	return nil
}

// Records returns the records in order.
func (l *Log) Records() []Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Record(nil), l.recs...)
}

// Bytes returns the log's committed text.
func (l *Log) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.data...)
}

// Close closes the log.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// Merge appends to the log, in one write made durable before it
// returns, the records of text (a log, as another replfs kept it) whose
// lines the log does not already hold; lines that are not records are
// skipped. It returns how many records it added. A crash during the
// write keeps, at most, the whole lines before the one it cut, as for
// Append: each is a record in its own right.
func (l *Log) Merge(text []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, errors.New("root score log closed")
	}
	have := map[string]bool{}
	for _, r := range l.recs {
		have[r.String()] = true
	}
	var add []byte
	var recs []Record
	for _, line := range strings.SplitAfter(string(text), "\n") {
		if !strings.HasSuffix(line, "\n") {
			continue // torn, or the end
		}
		r, err := ParseRecord(line)
		if err != nil || have[r.String()] {
			continue
		}
		have[r.String()] = true
		add = append(add, r.String()+"\n"...)
		recs = append(recs, r)
	}
	if len(add) == 0 {
		return 0, nil
	}
	if _, err := l.f.WriteAt(add, int64(len(l.data))); err != nil {
		return 0, fmt.Errorf("append %s: %w", l.path, err)
	}
	if err := l.f.Sync(); err != nil {
		return 0, fmt.Errorf("append %s: %w", l.path, err)
	}
	l.data = append(l.data, add...)
	l.recs = append(l.recs, recs...)
	return len(recs), nil
}
