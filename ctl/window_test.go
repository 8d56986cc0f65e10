package ctl

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// 2026-11-21 is a Saturday.
func at8(day int, hhmm string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", "2026-11-"+twoDigits(day)+" "+hhmm, time.UTC)
	if err != nil {
		panic(err)
	}
	return t
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + string(rune('0'+n))
	}
	return string(rune('0'+n/10)) + string(rune('0'+n%10))
}

func TestWindow(t *testing.T) {
	const (
		sat  = 21
		sun  = 22
		mon  = 23
		tue  = 24
		fri  = 27
		sat2 = 28
	)
	type check struct {
		t    time.Time
		open bool
		next time.Time // when closed: the next opening; when open: the close
	}
	for _, tt := range []struct {
		w      string
		checks []check
	}{
		{"(22:00 .. 06:00)", []check{ // wraps past midnight
			{at8(sat, "23:00"), true, at8(sun, "06:00")},
			{at8(sun, "05:59"), true, at8(sun, "06:00")},
			{at8(sun, "06:00"), false, at8(sun, "22:00")},
			{at8(sun, "12:00"), false, at8(sun, "22:00")},
			{at8(sun, "22:00"), true, at8(mon, "06:00")},
		}},
		{"(Saturday .. Monday)", []check{ // Saturday 00:00 to the end of Monday
			{at8(sat, "00:00"), true, at8(tue, "00:00")},
			{at8(sun, "12:00"), true, at8(tue, "00:00")},
			{at8(mon, "23:59"), true, at8(tue, "00:00")},
			{at8(tue, "00:00"), false, at8(sat2, "00:00")},
			{at8(fri, "23:59"), false, at8(sat2, "00:00")},
		}},
		{"(Sat 22:00 .. Mon 06:00)", []check{
			{at8(sat, "21:59"), false, at8(sat, "22:00")},
			{at8(sat, "22:00"), true, at8(mon, "06:00")},
			{at8(mon, "05:59"), true, at8(mon, "06:00")},
			{at8(mon, "06:00"), false, at8(sat, "22:00").AddDate(0, 0, 7)},
		}},
		{"(noon .. midnight)", []check{
			{at8(sat, "11:59"), false, at8(sat, "12:00")},
			{at8(sat, "12:00"), true, at8(sun, "00:00")},
			{at8(sat, "23:59"), true, at8(sun, "00:00")},
			{at8(sun, "00:00"), false, at8(sun, "12:00")},
		}},
		{"(midnight .. noon)", []check{
			{at8(sat, "00:00"), true, at8(sat, "12:00")},
			{at8(sat, "12:00"), false, at8(sun, "00:00")},
		}},
		{"(00:00 .. 23:59)", []check{
			{at8(sat, "23:58"), true, at8(sat, "23:59")},
			{at8(sat, "23:59"), false, at8(sun, "00:00")},
		}},
		{"(Mon 9:00 .. 17:00)", []check{ // a time alone ends on the start's day
			{at8(mon, "08:59"), false, at8(mon, "09:00")},
			{at8(mon, "16:59"), true, at8(mon, "17:00")},
			{at8(tue, "10:00"), false, at8(mon, "09:00").AddDate(0, 0, 7)},
		}},
		{"(Fri .. Mon)", []check{ // across the week's start
			{at8(sun, "03:00"), true, at8(tue, "00:00")},
			{at8(fri, "00:00"), true, at8(tue, "00:00").AddDate(0, 0, 7)},
			{at8(tue, "00:00"), false, at8(fri, "00:00")},
		}},
		{"(sunday .. SATURDAY)", []check{ // the whole week
			{at8(fri, "13:13"), true, time.Time{}},
		}},
		{"(22:00 .. 22:00)", []check{ // equal ends: always open
			{at8(sat, "21:00"), true, time.Time{}},
		}},
	} {
		w, err := ParseWindow(tt.w)
		if err != nil {
			t.Errorf("ParseWindow(%q): %v", tt.w, err)
			continue
		}
		for _, c := range tt.checks {
			if got := w.Open(c.t); got != c.open {
				t.Errorf("%s at %s: open %v, want %v", tt.w, c.t.Format("Mon 15:04"), got, c.open)
			}
			switch {
			case c.next.IsZero():
				if !w.Always() {
					t.Errorf("%s: not always open", tt.w)
				}
			case c.open:
				if got := w.Close(c.t); !got.Equal(c.next) {
					t.Errorf("%s at %s: closes %s, want %s", tt.w, c.t.Format("Mon 02 15:04"), got.Format("Mon 02 15:04"), c.next.Format("Mon 02 15:04"))
				}
				if got := w.Next(c.t); !got.Equal(c.t) {
					t.Errorf("%s at %s: next %v while open", tt.w, c.t, got)
				}
			default:
				if got := w.Next(c.t); !got.Equal(c.next) {
					t.Errorf("%s at %s: opens %s, want %s", tt.w, c.t.Format("Mon 02 15:04"), got.Format("Mon 02 15:04"), c.next.Format("Mon 02 15:04"))
				}
			}
		}
	}
	// In another zone the wall clock there counts.
	ny, err := time.LoadLocation("America/New_York")
	if err == nil {
		w, _ := ParseWindow("(22:00 .. 06:00)")
		if !w.Open(time.Date(2026, 11, 21, 23, 0, 0, 0, ny)) || w.Open(time.Date(2026, 11, 21, 23, 0, 0, 0, ny).UTC().Add(-6*time.Hour).In(ny)) {
			t.Errorf("window in New York")
		}
	}
}

func TestWindowErrors(t *testing.T) {
	for _, tt := range []struct{ in, err string }{
		{"(Satruday .. Monday)", `bad word "Satruday"`},
		{"(25:00 .. 06:00)", `bad word "25:00"`},
		{"(22:60 .. 06:00)", `bad word "22:60"`},
		{"(22:00 .. Monday)", "the end has a day and the start none"},
		{"(22:00)", `no ".."`},
		{"22:00 .. 06:00", "not in parentheses"},
		{"( .. 06:00)", "missing time"},
		{"(Sat Sun .. Mon)", `bad word "Sun"`},
		{"(Sat 10:00 11:00 .. Mon)", `bad word "11:00"`},
		{"(noon noon .. Mon)", `bad word "noon"`},
	} {
		_, err := ParseWindow(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), tt.in) {
			t.Errorf("ParseWindow(%q): %v, want %q", tt.in, err, tt.err)
		}
	}
}

func mustWindow(s string) *Window {
	w, err := ParseWindow(s)
	if err != nil {
		panic(err)
	}
	return w
}

// TestTrickleLine: switches accumulate left to right and each pair takes
// those in force at its destination; a window is sticky until replaced.
func TestTrickleLine(t *testing.T) {
	night, weekend := mustWindow("(22:00 .. 06:00)"), mustWindow("(Saturday .. Monday)")
	for _, tt := range []struct {
		in   string
		want []Pair
	}{
		{"trickle local backup", []Pair{{Src: "local", Dst: "backup"}}},
		{"trickle -R (00:00 .. 23:59) local backup", []Pair{{Src: "local", Dst: "backup", Repeat: true, Window: mustWindow("(00:00 .. 23:59)")}}},
		{"trickle -R local a -Q local b -D local c", []Pair{
			{Src: "local", Dst: "a", Repeat: true},
			{Src: "local", Dst: "b", Repeat: true, Quick: true},
			{Src: "local", Dst: "c", Repeat: true, Quick: true, Debug: true}}},
		{"trickle -DV local a -c local b", []Pair{
			{Src: "local", Dst: "a", Debug: true, Verify: true},
			{Src: "local", Dst: "b"}}},
		{"trickle (22:00 .. 06:00) local a vac:0842818bc4e6acc5ed5ca517cb45cb760844e9ed b (Saturday .. Monday) local tcp!c!17034", []Pair{
			{Src: "local", Dst: "a", Window: night},
			{Src: "vac:0842818bc4e6acc5ed5ca517cb45cb760844e9ed", Dst: "b", Window: night},
			{Src: "local", Dst: "tcp!c!17034", Window: weekend}}},
		{"trickle local -V a", []Pair{{Src: "local", Dst: "a", Verify: true}}}, // sampled at the destination
		{"trickle tcp!fs!17034 a -RQ backup b", []Pair{{Src: "tcp!fs!17034", Dst: "a"}, {Src: "backup", Dst: "b", Repeat: true, Quick: true}}},
	} {
		c, err := Parse(tt.in)
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		got := c.(Trickle).Pairs
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.in, got, tt.want)
		}
		back, err := Parse(c.String())
		if err != nil || !reflect.DeepEqual(back, c) {
			t.Errorf("%s: String %q parses to %+v %v", tt.in, c.String(), back, err)
		}
		for _, p := range got {
			one, err := Parse(p.Line())
			if err != nil || !reflect.DeepEqual(one.(Trickle).Pairs, []Pair{p}) {
				t.Errorf("%s: pair line %q: %+v %v", tt.in, p.Line(), one, err)
			}
		}
	}
	for _, tt := range []struct{ in, err string }{
		{"trickle", "usage: " + usageTrickle},
		{"trickle local", "usage: " + usageTrickle},
		{"trickle local a local", "usage: " + usageTrickle},
		{"trickle -x local a", `trickle: bad switch "-x"`},
		{"trickle local local", `trickle: bad destination "local"`},
		{"trickle local vac:0842818bc4e6acc5ed5ca517cb45cb760844e9ed", `trickle: bad destination "vac:0842818bc4e6acc5ed5ca517cb45cb760844e9ed"`},
		{"trickle vac:12 a", `trickle: bad score "vac:12"`},
		{"trickle a!b!c!d a", `trickle: bad source "a!b!c!d"`},
		{"trickle (Satruday .. Monday) local a", `trickle: window "(Satruday .. Monday)": bad word "Satruday"`},
		{"set maxretries 3", ""},
		{"set retryseconds 0", `set: bad retryseconds "0"`},
		{"set frob 1", `set: unknown setting "frob"`},
		{"set repeatseconds", "usage: " + usageSet},
		{"target -r 10M backup tcp!b!17034", ""},
		{"target -r fast backup tcp!b!17034", `target: bad rate "fast"`},
	} {
		c, err := Parse(tt.in)
		if tt.err == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.in, err)
			} else if back, err := Parse(c.String()); err != nil || !reflect.DeepEqual(back, c) {
				t.Errorf("%s: reads back as %v %v", tt.in, back, err)
			}
			continue
		}
		if err == nil || err.Error() != tt.err {
			t.Errorf("%s: %v, want %q", tt.in, err, tt.err)
		}
	}
	if r, _ := ParseRate("10M"); r != 10<<20 || FormatRate(r) != "10m" {
		t.Errorf("rate 10M = %d %s", r, FormatRate(r))
	}
}
