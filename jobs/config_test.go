package jobs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"replfs/ctl"
	"replfs/venti/ventitest"
)

// TestFailedSaveChangesNothing: a ctl write whose configuration cannot
// be saved fails and leaves everything as it was: /ctl byte for byte,
// and the rate in force.
func TestFailedSaveChangesNothing(t *testing.T) {
	state := t.TempDir()
	e := newEngine(t, state)
	ctx := context.Background()
	a, _ := ventitest.NewServer(t)
	b, _ := ventitest.NewServer(t)
	if err := e.Exec(ctx, "target -r 1m one "+a+"\ntarget two "+b+"\nset maxretries 3"); err != nil {
		t.Fatal(err)
	}
	before := e.CtlText()
	// Nothing can be renamed onto a directory that is not empty.
	cfg := filepath.Join(state, "config")
	os.Remove(cfg)
	if err := os.MkdirAll(filepath.Join(cfg, "x"), 0700); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"target -r 2m one " + a,
		"target -d two",
		"target three " + b,
		"target one " + b,
		"set maxretries 4",
		"source tcp!127.0.0.1!1 /dev/null",
		"fossil /tmp/fossil.part",
		"target -r 4m two " + b + "\nventiprog two",
	} {
		ids, err := e.ExecJobs(ctx, w)
		if err == nil {
			t.Errorf("%q: saved", w)
		}
		if len(ids) != 0 {
			t.Errorf("%q: started jobs %v", w, ids)
		}
		if got := e.CtlText(); got != before {
			t.Errorf("after %q failed, /ctl\n%q, want\n%q", w, got, before)
		}
	}
	e.mu.Lock()
	one, two := e.targets["one"], e.targets["two"]
	e.mu.Unlock()
	if one == nil || two == nil {
		t.Fatal("targets gone")
	}
	if r := one.limit.getRate(); r != 1<<20 {
		t.Errorf("one's rate %d in force, want %d", r, 1<<20)
	}
	if r := two.limit.getRate(); r != 0 {
		t.Errorf("two's rate %d in force, want 0", r)
	}
	if one.addr != a {
		t.Errorf("one's address %s", one.addr)
	}
	if s := e.scheduleFor(ctl.Pair{}); s.maxRetries != 3 {
		t.Errorf("maxretries %d in force", s.maxRetries)
	}
	if len(e.Jobs()) != 0 {
		t.Errorf("jobs %v", e.Jobs())
	}
}

// TestVerbTable: every verb ctl parses has one entry in the engine's
// table, and every setting a field.
func TestVerbTable(t *testing.T) {
	names := map[string]bool{}
	for _, v := range ctl.Verbs {
		names[v.Name] = true
		e, ok := verbs[v.Name]
		if !ok {
			t.Errorf("verb %s has no entry", v.Name)
		}
		if e.config == nil && e.run == nil && e.act == nil {
			t.Errorf("verb %s does nothing", v.Name)
		}
	}
	for n := range verbs {
		if !names[n] {
			t.Errorf("entry %s is no verb of ctl's", n)
		}
	}
	var s settings
	for _, d := range ctl.Settings {
		if s.field(d.Name) == nil {
			t.Errorf("setting %s has no field", d.Name)
		}
	}
}

// TestConfigApply: apply checks names against the configuration as
// the earlier messages leave it, returns a new configuration and
// leaves its receiver alone; text parses back to the same.
func TestConfigApply(t *testing.T) {
	base, err := parse("target -r 1m one tcp!a!1\nset maxretries 3\n")
	if err != nil {
		t.Fatal(err)
	}
	before := base.text()
	for _, tt := range []struct {
		in, want, err string
	}{
		{"target two tcp!b!1", "target -r 1m one tcp!a!1\ntarget two tcp!b!1\nset maxretries 3\n", ""},
		{"target -r 2m one tcp!a!1", "target -r 2m one tcp!a!1\nset maxretries 3\n", ""},
		{"target -d one\ntarget one tcp!c!1", "target one tcp!c!1\nset maxretries 3\n", ""},
		{"set maxretries 10\nsource tcp!s!1 /p", "source tcp!s!1 /p\ntarget -r 1m one tcp!a!1\n", ""},
		{"target two tcp!b!1\nventiprog two", "target -r 1m one tcp!a!1\ntarget two tcp!b!1\nset maxretries 3\n", ""},
		{"ventiprog one tcp!x!1\ncopy one local vac:" + archive1, before, ""},
		{"target -d one\nventiprog one", "", "no target one"},
		{"target -d two", "", "no target two"},
		{"copy local two vac:" + archive1, "", "no target two"},
		{"verify two", "", "no target two"},
		{"fossil -h two /p", "", "no target two"},
		{"fosreset vac:" + archive1 + " /p two", "", "no target two"},
		{"trickle local one -Q two one", "", "no target two"},
		{"trickle fossil one vac:" + archive1 + " one", before, ""},
	} {
		cmds, err := ctl.ParseText(tt.in)
		if err != nil {
			t.Fatalf("%q: %v", tt.in, err)
		}
		next, err := base.apply(cmds)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%q: error %v, want %s", tt.in, err, tt.err)
			}
		} else if err != nil {
			t.Errorf("%q: %v", tt.in, err)
		} else if got := next.text(); got != tt.want {
			t.Errorf("%q: %q, want %q", tt.in, got, tt.want)
		} else if back, err := parse(got); err != nil || back.text() != got {
			t.Errorf("%q: text parses back as %q, %v", tt.in, back.text(), err)
		}
		if got := base.text(); got != before {
			t.Fatalf("%q changed its receiver: %q", tt.in, got)
		}
	}
	if _, err := parse("ventiprog\n"); err == nil {
		t.Error("a configuration file with ventiprog parsed")
	}
}

// TestWriteAllOrNone: one write to /ctl is a set of whole lines applied
// all or none: a bad line anywhere, or a job line that cannot start,
// leaves the configuration as it was and starts nothing, and the error
// names the bad line.
func TestWriteAllOrNone(t *testing.T) {
	e := newEngine(t, t.TempDir())
	ctx := context.Background()
	a, _ := ventitest.NewServer(t)
	if err := e.Exec(ctx, "target one "+a); err != nil {
		t.Fatal(err)
	}
	before := e.CtlText()
	var many strings.Builder
	for i := range 500 {
		fmt.Fprintf(&many, "target u%d %s\n", i, a)
	}
	for _, tc := range []struct{ text, err string }{
		{many.String() + "target u500\n", "line 501: usage: target"},
		{"target two " + a + "\nbogus\ntarget three " + a, `line 2: unknown control message "bogus"`},
		{"target two " + a + "\nventiprog nosuch", "no target nosuch"},
		{"target -d one\nventiprog one", "no target one"},
	} {
		_, err := e.ExecJobs(ctx, tc.text)
		if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
			t.Errorf("write %.40q: error %v, want %s", tc.text, err, tc.err)
		}
		if got := e.CtlText(); got != before {
			t.Errorf("write %.40q changed /ctl:\n%s", tc.text, got)
		}
		if n := len(e.Jobs()); n != 0 {
			t.Errorf("write %.40q started %d jobs", tc.text, n)
		}
	}
}
