package arena

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// /graph: the store's reads and writes a second over the last hour,
// sampled every 10 seconds, as an SVG (plan9port venti draws its
// statistics as images at /graph too).

type rateSample struct {
	t             time.Time
	reads, writes int64
}

const (
	rateEvery   = 10 * time.Second
	rateSamples = 360
)

func (s *Store) sampleRates() {
	defer close(s.graphed)
	tk := time.NewTicker(rateEvery)
	defer tk.Stop()
	s.addRate(time.Now())
	for {
		select {
		case now := <-tk.C:
			s.addRate(now)
		case <-s.stop:
			return
		}
	}
}

func (s *Store) addRate(now time.Time) {
	s.lmu.Lock()
	s.rates = append(s.rates, rateSample{now, s.reads.Load(), s.writes.Load()})
	if len(s.rates) > rateSamples+1 {
		s.rates = s.rates[len(s.rates)-rateSamples-1:]
	}
	s.lmu.Unlock()
}

func (s *Store) serveGraph(w http.ResponseWriter, r *http.Request) {
	s.lmu.Lock()
	rs := append([]rateSample(nil), s.rates...)
	s.lmu.Unlock()
	rs = append(rs, rateSample{time.Now(), s.reads.Load(), s.writes.Load()})
	type pt struct {
		t    time.Time
		r, w float64
	}
	var pts []pt
	var max float64 = 1
	for i := 1; i < len(rs); i++ {
		d := rs[i].t.Sub(rs[i-1].t).Seconds()
		if d <= 0 {
			continue
		}
		p := pt{rs[i].t, float64(rs[i].reads-rs[i-1].reads) / d, float64(rs[i].writes-rs[i-1].writes) / d}
		max = maxf(max, maxf(p.r, p.w))
		pts = append(pts, p)
	}
	const W, H, pad = 600, 200, 40
	end := time.Now()
	from := end.Add(-time.Hour)
	line := func(val func(pt) float64) string {
		var b strings.Builder
		for _, p := range pts {
			x := pad + (W-2*pad)*p.t.Sub(from).Seconds()/time.Hour.Seconds()
			y := H - pad/2 - (H-pad)*val(p)/max
			fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
		}
		return strings.TrimSpace(b.String())
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" data-points="%d">`, W, H, len(pts))
	fmt.Fprintf(w, `<text x="2" y="12" font-size="10">%.1f/s</text><text x="2" y="%d" font-size="10">0</text>`, max, H-pad/2)
	fmt.Fprintf(w, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>`, pad, H-pad/2, W-pad, H-pad/2)
	fmt.Fprintf(w, `<text x="%d" y="%d" font-size="10">reads/s</text><text x="%d" y="%d" font-size="10" fill="#c60">writes/s</text>`, W-pad-90, 12, W-pad-40, 12)
	if len(pts) > 0 {
		fmt.Fprintf(w, `<polyline id="reads" fill="none" stroke="#06c" points="%s"/>`, line(func(p pt) float64 { return p.r }))
		fmt.Fprintf(w, `<polyline id="writes" fill="none" stroke="#c60" points="%s"/>`, line(func(p pt) float64 { return p.w }))
	}
	fmt.Fprint(w, "</svg>\n")
}

func maxf(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}
