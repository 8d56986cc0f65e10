package fs

import (
	"fmt"
	"testing"

	"9fans.net/go/plan9"
)

// req is one request of a pipelined pair, made for the fids x and y.
type req struct {
	name string
	make func(x, y uint32) *plan9.Fcall
}

// Requests that create a fid (x) or change it.
var creators = []req{
	{"attach", func(x, y uint32) *plan9.Fcall {
		return &plan9.Fcall{Type: plan9.Tattach, Fid: x, Afid: plan9.NOFID, Uname: "glenda"}
	}},
	{"clone", func(x, y uint32) *plan9.Fcall {
		return &plan9.Fcall{Type: plan9.Twalk, Fid: 0, Newfid: x}
	}},
	{"walk", func(x, y uint32) *plan9.Fcall {
		return &plan9.Fcall{Type: plan9.Twalk, Fid: 0, Newfid: x, Wname: []string{"ctl"}}
	}},
	{"walkdir", func(x, y uint32) *plan9.Fcall {
		return &plan9.Fcall{Type: plan9.Twalk, Fid: 0, Newfid: x, Wname: []string{"jobs", "1"}}
	}},
}

// Requests that change an existing fid x (made by walking to /jobs first).
var changers = []req{
	{"walkself", func(x, y uint32) *plan9.Fcall {
		return &plan9.Fcall{Type: plan9.Twalk, Fid: x, Newfid: x, Wname: []string{"1", "ctl"}}
	}},
	{"open", func(x, y uint32) *plan9.Fcall {
		return &plan9.Fcall{Type: plan9.Topen, Fid: x, Mode: plan9.OREAD}
	}},
}

// Requests that use fid x.
var users = []req{
	{"open", func(x, y uint32) *plan9.Fcall { return &plan9.Fcall{Type: plan9.Topen, Fid: x, Mode: plan9.OREAD} }},
	{"read", func(x, y uint32) *plan9.Fcall { return &plan9.Fcall{Type: plan9.Tread, Fid: x, Count: 100} }},
	{"write", func(x, y uint32) *plan9.Fcall {
		return &plan9.Fcall{Type: plan9.Twrite, Fid: x, Data: []byte("cancel\n")}
	}},
	{"stat", func(x, y uint32) *plan9.Fcall { return &plan9.Fcall{Type: plan9.Tstat, Fid: x} }},
	{"clunk", func(x, y uint32) *plan9.Fcall { return &plan9.Fcall{Type: plan9.Tclunk, Fid: x} }},
	{"remove", func(x, y uint32) *plan9.Fcall { return &plan9.Fcall{Type: plan9.Tremove, Fid: x} }},
	{"walkfrom", func(x, y uint32) *plan9.Fcall {
		return &plan9.Fcall{Type: plan9.Twalk, Fid: x, Newfid: y, Wname: []string{"status"}}
	}},
	{"wstat", func(x, y uint32) *plan9.Fcall {
		d := plan9.Dir{Length: 0, Mode: ^plan9.Perm(0), Type: ^uint16(0), Dev: ^uint32(0),
			Qid: plan9.Qid{Path: ^uint64(0), Vers: ^uint32(0), Type: ^uint8(0)}, Atime: ^uint32(0), Mtime: ^uint32(0)}
		b, _ := d.Bytes()
		return &plan9.Fcall{Type: plan9.Twstat, Fid: x, Stat: b}
	}},
}

type pair struct {
	setup       bool // x is walked to /jobs before the pair
	first, then req
}

// summary is what must not depend on timing: the reply's kind and the
// parts of it that name what the fid is.
func summary(f *plan9.Fcall) string {
	switch f.Type {
	case plan9.Rerror:
		return "error " + f.Ename
	case plan9.Rwalk:
		return fmt.Sprintf("walk %d", len(f.Wqid))
	case plan9.Ropen, plan9.Rattach:
		return fmt.Sprintf("%d qid type %d", f.Type, f.Qid.Type)
	case plan9.Rread:
		return fmt.Sprintf("read %d", len(f.Data))
	case plan9.Rwrite:
		return fmt.Sprintf("write %d", f.Count)
	case plan9.Rstat:
		d, err := plan9.UnmarshalDir(f.Stat)
		if err != nil {
			return "stat " + err.Error()
		}
		return fmt.Sprintf("stat %s %v", d.Name, d.Mode)
	}
	return fmt.Sprint(f.Type)
}

// TestPipelinedFids: a request sent right behind the one that creates
// or changes its fid, without waiting for that reply, is answered as if
// the client had waited. Every pair of a fid-creating (or -changing)
// request and a fid-using one, pipelined many times over, gets the
// answers the same pair gets one request at a time.
func TestPipelinedFids(t *testing.T) {
	_, addr := start(t)
	r := rawDial(t, addr)
	var pairs []pair
	for _, c := range creators {
		for _, u := range users {
			pairs = append(pairs, pair{false, c, u})
		}
	}
	for _, c := range changers {
		for _, u := range users {
			pairs = append(pairs, pair{true, c, u})
		}
	}
	tag := uint16(1)
	send := func(f *plan9.Fcall) uint16 {
		tag++
		if tag == plan9.NOTAG {
			tag = 2
		}
		f.Tag = tag
		r.send(f)
		return tag
	}
	// Replies come in any order; collect them by tag.
	await := func(tags ...uint16) map[uint16]*plan9.Fcall {
		got := map[uint16]*plan9.Fcall{}
		for len(got) < len(tags) {
			f := r.recv()
			got[f.Tag] = f
		}
		for _, tg := range tags {
			if got[tg] == nil {
				t.Fatalf("no reply for tag %d: %v", tg, got)
			}
		}
		return got
	}
	setup := func(ps []pair, fid func(i int) (uint32, uint32)) {
		var tags []uint16
		for i, p := range ps {
			if p.setup {
				x, _ := fid(i)
				tags = append(tags, send(&plan9.Fcall{Type: plan9.Twalk, Fid: 0, Newfid: x, Wname: []string{"jobs"}}))
			}
		}
		for tg, f := range await(tags...) {
			if f.Type != plan9.Rwalk {
				t.Fatalf("setup walk %d: %v", tg, f)
			}
		}
	}
	cleanup := func(ps []pair, fid func(i int) (uint32, uint32)) {
		var tags []uint16
		for i := range ps {
			x, y := fid(i)
			tags = append(tags, send(&plan9.Fcall{Type: plan9.Tclunk, Fid: x}), send(&plan9.Fcall{Type: plan9.Tclunk, Fid: y}))
		}
		await(tags...)
	}

	// The answers one at a time.
	want := make([][2]string, len(pairs))
	one := func(int) (uint32, uint32) { return 10, 11 }
	for i, p := range pairs {
		setup(pairs[i:i+1], one)
		a := send(p.first.make(10, 11))
		fa := await(a)[a]
		b := send(p.then.make(10, 11))
		fb := await(b)[b]
		want[i] = [2]string{summary(fa), summary(fb)}
		cleanup(pairs[i:i+1], one)
	}
	for i, p := range pairs {
		t.Logf("%s then %s: %q", p.first.name, p.then.name, want[i])
	}

	// The same, all pairs at once, each pair back to back.
	rounds := 120
	if testing.Short() {
		rounds = 10
	}
	bad := 0
	many := func(i int) (uint32, uint32) { return uint32(100 + 2*i), uint32(101 + 2*i) }
	for range rounds {
		setup(pairs, many)
		var tags [][2]uint16
		for i, p := range pairs {
			x, y := many(i)
			r.mu.Lock()
			a := p.first.make(x, y)
			b := p.then.make(x, y)
			tag++
			a.Tag = tag
			tag++
			b.Tag = tag
			buf, _ := a.Bytes()
			bb, _ := b.Bytes()
			// One write: the server reads the second straight after the first.
			if _, err := r.nc.Write(append(buf, bb...)); err != nil {
				t.Fatal(err)
			}
			r.mu.Unlock()
			tags = append(tags, [2]uint16{a.Tag, b.Tag})
		}
		var all []uint16
		for _, tg := range tags {
			all = append(all, tg[0], tg[1])
		}
		got := await(all...)
		for i, tg := range tags {
			g := [2]string{summary(got[tg[0]]), summary(got[tg[1]])}
			if g != want[i] {
				if bad++; bad > 10 {
					t.FailNow()
				}
				t.Errorf("%s then %s pipelined: %q, one at a time %q", pairs[i].first.name, pairs[i].then.name, g, want[i])
			}
		}
		cleanup(pairs, many)
		if tag > 60000 {
			tag = 1
		}
	}
}
