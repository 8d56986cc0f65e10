package ctl

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A Window restricts when transfers run, as TrickleChargeServer's
// "( time1 .. time2 )" token did. Each end is a day, a time of day, or
// a day and a time:
//
//	(22:00 .. 06:00)        every night; wraps past midnight
//	(Saturday .. Monday)    from Saturday 00:00 to the end of Monday
//	(Sat 22:00 .. Mon 06:00)
//	(noon .. midnight)
//
// A day alone starts at 00:00 and, as the end, means the end of that
// day. With days the window repeats weekly, without them daily. An end
// at or before its start is on the next day (next week); equal ends
// make a window that is always open. Times are the local wall clock of
// the time asked about.
type Window struct {
	text   string
	weekly bool
	start  int // minutes from the period's start (Sunday 00:00, or 00:00)
	end    int // minutes, start < end <= start + period
}

const (
	day  = 24 * 60
	week = 7 * day
)

var dayNames = []string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}

// point is one end: a day (-1: none) and minutes (-1: none).
type point struct{ day, min int }

// ParseWindow parses a window token, parentheses included.
func ParseWindow(tok string) (*Window, error) {
	in, ok := strings.CutPrefix(tok, "(")
	if ok {
		in, ok = strings.CutSuffix(in, ")")
	}
	if !ok {
		return nil, fmt.Errorf("window %s: not in parentheses", Clip(tok))
	}
	a, b, ok := strings.Cut(in, "..")
	if !ok {
		return nil, fmt.Errorf("window %s: no \"..\"", Clip(tok))
	}
	s, err := parsePoint(a)
	if err != nil {
		return nil, fmt.Errorf("window %s: %v", Clip(tok), err)
	}
	e, err := parsePoint(b)
	if err != nil {
		return nil, fmt.Errorf("window %s: %v", Clip(tok), err)
	}
	w := &Window{text: "(" + strings.Join(strings.Fields(a), " ") + " .. " + strings.Join(strings.Fields(b), " ") + ")"}
	switch {
	case s.day < 0 && e.day >= 0:
		return nil, fmt.Errorf("window %s: the end has a day and the start none", Clip(tok))
	case s.day >= 0:
		w.weekly = true
		w.start = s.day*day + max(s.min, 0)
		switch {
		case e.day < 0: // a time on the start's day, or the next
			w.end = s.day*day + e.min
		case e.min < 0: // the end of that day
			w.end = (e.day + 1) * day
		default:
			w.end = e.day*day + e.min
		}
		if w.end <= w.start {
			w.end += week
		}
	default:
		w.start, w.end = s.min, e.min
		if w.end <= w.start {
			w.end += day
		}
	}
	return w, nil
}

func parsePoint(s string) (point, error) {
	p := point{-1, -1}
	words := strings.Fields(s)
	if len(words) == 0 {
		return p, fmt.Errorf("missing time")
	}
	if len(words) > 2 {
		return p, fmt.Errorf("bad word %s", Clip(words[2]))
	}
	for i, w := range words {
		if d := dayOf(w); d >= 0 && i == 0 {
			p.day = d
			continue
		}
		m, err := minutesOf(w)
		if err != nil {
			return p, err
		}
		if p.min >= 0 {
			return p, fmt.Errorf("bad word %s", Clip(w))
		}
		p.min = m
	}
	return p, nil
}

func dayOf(w string) int {
	l := strings.ToLower(w)
	for i, d := range dayNames {
		if l == d || l == d[:3] {
			return i
		}
	}
	return -1
}

func minutesOf(w string) (int, error) {
	switch strings.ToLower(w) {
	case "midnight":
		return 0, nil
	case "noon":
		return 12 * 60, nil
	}
	h, m, ok := strings.Cut(w, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(h) < 1 || len(h) > 2 || len(m) != 2 ||
		hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, fmt.Errorf("bad word %s", Clip(w))
	}
	return hh*60 + mm, nil
}

// String returns the window as written (blanks normalized).
func (w *Window) String() string { return w.text }

// Always reports whether the window never closes.
func (w *Window) Always() bool {
	if w.weekly {
		return w.end-w.start >= week
	}
	return w.end-w.start >= day
}

func (w *Window) period() int {
	if w.weekly {
		return week
	}
	return day
}

// base returns the start of the period holding t: Sunday 00:00 of its
// week, or 00:00 of its day, on t's wall clock.
func (w *Window) base(t time.Time) time.Time {
	y, mo, d := t.Date()
	if w.weekly {
		d -= int(t.Weekday())
	}
	return time.Date(y, mo, d, 0, 0, 0, 0, t.Location())
}

// at returns the wall-clock time min minutes after b.
func at(b time.Time, min int) time.Time {
	y, mo, d := b.Date()
	return time.Date(y, mo, d, 0, min, 0, 0, b.Location())
}

// opening returns the start of the last opening that begins at or
// before t.
func (w *Window) opening(t time.Time) time.Time {
	b := w.base(t)
	s := at(b, w.start)
	if s.After(t) {
		if w.weekly {
			s = at(b, w.start-week)
		} else {
			s = at(b, w.start-day)
		}
	}
	return s
}

// Open reports whether t is inside the window.
func (w *Window) Open(t time.Time) bool {
	if w.Always() {
		return true
	}
	return t.Before(w.Close(t))
}

// Close returns when the opening that began last, at or before t,
// closes (which is at or before t when the window is shut at t).
func (w *Window) Close(t time.Time) time.Time {
	s := w.opening(t)
	return at(s, s.Hour()*60+s.Minute()+w.end-w.start)
}

// Next returns t if the window is open at t, else when it next opens.
func (w *Window) Next(t time.Time) time.Time {
	if w.Open(t) {
		return t
	}
	s := w.opening(t)
	return at(s, s.Hour()*60+s.Minute()+w.period())
}
