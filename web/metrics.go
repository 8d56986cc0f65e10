package web

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// VentiStats are the embedded venti's counts, for /metrics.
type VentiStats struct {
	Clumps, CClumps     int64 // blocks stored, of which compressed
	Bytes, StoredBytes  int64 // their bytes, and the log bytes they take
	Reads, Writes       int64 // requests served since start
	Arenas, SealedArena int64
}

// The metrics are written in Prometheus's text format directly: a
// dozen families of gauges and counters need no client library, and
// replfs takes no dependency for them (the tests parse the page with
// the library's own parser).

// metrics writes /metrics.
func (s *Server) metrics(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	m := &metricWriter{w: w}
	ts := s.targets()
	family := func(name, typ, help string, val func(f map[string]string) (float64, bool)) {
		m.head(name, typ, help)
		for _, t := range ts {
			if v, ok := val(toMap(t.Fields)); ok {
				m.sample(name, labels{"target", t.Name}, v)
			}
		}
	}
	num := func(key string) func(map[string]string) (float64, bool) {
		return func(f map[string]string) (float64, bool) {
			v, err := strconv.ParseFloat(f[key], 64)
			return v, err == nil
		}
	}
	stamp := func(key string) func(map[string]string) (float64, bool) {
		return func(f map[string]string) (float64, bool) {
			v := f[key]
			if v == "-" {
				return 0, true
			}
			t, err := time.Parse(time.RFC3339, strings.Fields(v + " ")[0])
			return float64(t.Unix()), err == nil
		}
	}
	family("replfs_target_lag_bytes", "gauge", "Clump log bytes the target lacks (lagbytes).", num("lagbytes"))
	family("replfs_target_lag_data_bytes", "gauge", "Block bytes the target lacks, what a copy sends (lagdata).", num("lagdata"))
	family("replfs_target_lag_clumps", "gauge", "Clumps the target lacks (lagclumps).", num("lagclumps"))
	family("replfs_target_sent_bytes_total", "counter", "Block bytes sent to the target since replfs started (totalbytes).", num("totalbytes"))
	family("replfs_target_sent_clumps_total", "counter", "Clumps sent to the target since replfs started (totalclumps).", num("totalclumps"))
	family("replfs_target_rate_bytes_per_second", "gauge", "Block bytes a second over the last 30 s of a run (rate).", num("rate"))
	family("replfs_target_retries_total", "counter", "Retries of jobs sending to the target (retries).", num("retries"))
	family("replfs_target_corrupt_clumps", "gauge", "Corrupt source clumps the last run skipped (corrupt).", num("corrupt"))
	family("replfs_target_last_success_timestamp_seconds", "gauge", "When a run to the target last succeeded, Unix seconds; 0 for never (lastsuccess).", stamp("lastsuccess"))
	family("replfs_target_last_error_timestamp_seconds", "gauge", "When a run to the target last failed, Unix seconds; 0 for never (lasterror).", stamp("lasterror"))
	m.head("replfs_target_state", "gauge", "1 for the target's state (idle, running, failed), 0 for the others.")
	for _, t := range ts {
		for _, st := range []string{"idle", "queued", "running", "failed"} {
			v := 0.0
			if t.State == st {
				v = 1
			}
			m.sample("replfs_target_state", labels{"target", t.Name, "state", st}, v)
		}
	}

	// Jobs by kind: how many in each state, and how long finished ones took.
	type kind struct{ verb, state string }
	counts := map[kind]int{}
	durs := map[string][2]float64{} // verb: seconds, count
	for _, j := range s.jobs(1 << 30) {
		verb := strings.Fields(j.Cmd + " ")[0]
		counts[kind{verb, j.State}]++
		f := toMap(j.Fields)
		st, err1 := time.Parse(time.RFC3339, f["started"])
		en, err2 := time.Parse(time.RFC3339, f["ended"])
		if err1 == nil && err2 == nil {
			d := durs[verb]
			durs[verb] = [2]float64{d[0] + en.Sub(st).Seconds(), d[1] + 1}
		}
	}
	m.head("replfs_jobs", "gauge", "Jobs listed in /jobs, by verb and state.")
	keys := make([]kind, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].verb != keys[j].verb {
			return keys[i].verb < keys[j].verb
		}
		return keys[i].state < keys[j].state
	})
	for _, k := range keys {
		m.sample("replfs_jobs", labels{"verb", k.verb, "state", k.state}, float64(counts[k]))
	}
	m.head("replfs_job_duration_seconds", "summary", "Run time of the finished jobs listed, by verb.")
	verbs := make([]string, 0, len(durs))
	for v := range durs {
		verbs = append(verbs, v)
	}
	sort.Strings(verbs)
	for _, v := range verbs {
		m.sample("replfs_job_duration_seconds_sum", labels{"verb", v}, durs[v][0])
		m.sample("replfs_job_duration_seconds_count", labels{"verb", v}, durs[v][1])
	}

	if s.Venti != nil {
		st := s.Venti()
		for _, f := range []struct {
			name, typ, help string
			v               int64
		}{
			{"replfs_venti_blocks", "gauge", "Blocks the embedded venti stores.", st.Clumps},
			{"replfs_venti_compressed_blocks", "gauge", "Of them, stored compressed.", st.CClumps},
			{"replfs_venti_block_bytes", "gauge", "Their bytes, uncompressed.", st.Bytes},
			{"replfs_venti_stored_bytes", "gauge", "The clump log bytes they take.", st.StoredBytes},
			{"replfs_venti_reads_total", "counter", "Reads served since start.", st.Reads},
			{"replfs_venti_writes_total", "counter", "Writes served since start.", st.Writes},
		} {
			m.head(f.name, f.typ, f.help)
			m.sample(f.name, nil, float64(f.v))
		}
	}
}

type labels []string // name, value, ...

type metricWriter struct{ w io.Writer }

func (m *metricWriter) head(name, typ, help string) {
	fmt.Fprintf(m.w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func (m *metricWriter) sample(name string, l labels, v float64) {
	io.WriteString(m.w, name)
	if len(l) > 0 {
		io.WriteString(m.w, "{")
		for i := 0; i < len(l); i += 2 {
			if i > 0 {
				io.WriteString(m.w, ",")
			}
			fmt.Fprintf(m.w, "%s=%s", l[i], strconv.Quote(l[i+1]))
		}
		io.WriteString(m.w, "}")
	}
	fmt.Fprintf(m.w, " %s\n", strconv.FormatFloat(v, 'f', -1, 64))
}
