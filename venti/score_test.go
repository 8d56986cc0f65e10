package venti

import (
	"crypto/sha1"
	"testing"
)

func TestParseScore(t *testing.T) {
	const h = "c1e7386efe3d849c6ae4ae6a6c1daa49dab244fc"
	for _, tt := range []struct {
		in, label string
		ok        bool
	}{
		{h, "", true},
		{"vac:" + h, "vac", true},
		{"VAC:" + h, "VAC", true},
		{"ffs:" + h, "ffs", true},
		{":" + h, "", true},
		{"C1E7386EFE3D849C6AE4AE6A6C1DAA49DAB244FC", "", true},
		{h[:39], "", false},
		{h + "0", "", false},
		{"vac:" + h[:39] + "g", "", false},
		{"a:b:" + h, "", false},
		{"", "", false},
	} {
		label, s, err := ParseLabeledScore(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseLabeledScore(%q): err %v, want ok %v", tt.in, err, tt.ok)
			continue
		}
		if !tt.ok {
			continue
		}
		if s != sc1 || s.String() != h || label != tt.label {
			t.Errorf("ParseLabeledScore(%q) = %q, %v", tt.in, label, s)
		}
	}
}

func TestZeroScore(t *testing.T) {
	if ZeroScore != Score(sha1.Sum(nil)) || Sum(nil) != ZeroScore {
		t.Errorf("ZeroScore %v is not SHA-1 of nothing", ZeroScore)
	}
	if ZeroScore.String() != "da39a3ee5e6b4b0d3255bfef95601890afd80709" {
		t.Errorf("ZeroScore prints %v", ZeroScore)
	}
	if !ZeroScore.IsZero() || !(Score{}).IsZero() || sc1.IsZero() {
		t.Error("IsZero wrong")
	}
}
