package peer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFingerprint(t *testing.T) {
	var f Fingerprint
	for i := range f {
		f[i] = byte(i * 7)
	}
	s := f.String()
	if !strings.HasPrefix(s, "sha256:0007-0e15-") || strings.Count(s, "-") != 15 {
		t.Fatalf("String = %s", s)
	}
	for _, in := range []string{s, strings.ToUpper(s), strings.TrimPrefix(s, "sha256:"), strings.ReplaceAll(s, "-", "")} {
		g, err := ParseFingerprint(in)
		if err != nil || g != f {
			t.Errorf("ParseFingerprint(%q) = %v, %v", in, g, err)
		}
	}
	for _, in := range []string{"", "sha256:", s[:len(s)-1], s + "0", strings.Replace(s, "0007", "000g", 1)} {
		if _, err := ParseFingerprint(in); err == nil {
			t.Errorf("ParseFingerprint(%q) succeeded", in)
		}
	}
}

func TestParseList(t *testing.T) {
	a, b := newID(t, "a"), newID(t, "b")
	l, err := ParseList("# site peers\n\na " + a.FP.String() + " ctl tls!10.0.0.1!5641\n  b " + b.FP.String() + " read\n")
	if err != nil {
		t.Fatal(err)
	}
	ps := l.Peers()
	if len(ps) != 2 || ps[0].Name != "a" || ps[0].Access != Ctl || ps[0].Addrs[0] != "tls!10.0.0.1!5641" ||
		ps[1].Name != "b" || ps[1].Access != Read || ps[1].FP != b.FP {
		t.Fatalf("peers %+v", ps)
	}
	if p, ok := l.at("tls!10.0.0.1!5641"); !ok || p.Name != "a" {
		t.Errorf("at address: %v %v", p.Name, ok)
	}
	if p, ok := l.at("tls!b!5641"); !ok || p.Name != "b" {
		t.Errorf("at name: %v %v", p.Name, ok)
	}
	if _, ok := l.at("tls!10.0.0.2!5641"); ok {
		t.Errorf("an address no one has found a peer")
	}
	for _, bad := range []string{
		"a " + a.FP.String(),
		"a " + a.FP.String() + " write",
		"a sha256:00 ctl",
		"a!x " + a.FP.String() + " ctl",
		"a " + a.FP.String() + " ctl tcp!x!1",
		"a " + a.FP.String() + " ctl\na " + b.FP.String() + " ctl",
		"a " + a.FP.String() + " ctl\nb " + a.FP.String() + " ctl",
	} {
		if _, err := ParseList(bad); err == nil || !strings.HasPrefix(err.Error(), "line ") {
			t.Errorf("ParseList(%q): %v", bad, err)
		}
	}
}

func TestLoadIdentity(t *testing.T) {
	dir := t.TempDir()
	id, err := LoadIdentity(dir, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, IDFile))
	if err != nil || fi.Mode().Perm() != 0600 {
		t.Fatalf("id file: %v %v", fi.Mode(), err)
	}
	again, err := LoadIdentity(dir, "other")
	if err != nil || again.FP != id.FP || again.Name != "alpha" {
		t.Fatalf("second load: %v %v %v", again.Name, again.FP, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("left behind: %v", ents)
	}
	os.Chmod(filepath.Join(dir, IDFile), 0644)
	if _, err := LoadIdentity(dir, "alpha"); err == nil || !strings.Contains(err.Error(), "others may read") {
		t.Errorf("mode 0644: %v", err)
	}
	if _, err := LoadIdentity(t.TempDir(), "no name"); err == nil {
		t.Errorf("a name with a blank made an identity")
	}
}

// newID makes an identity in memory.
func newID(t testing.TB, name string) *Identity {
	t.Helper()
	id, err := NewIdentity(name)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
