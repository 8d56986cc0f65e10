package venti

import (
	"bufio"
	"strings"
	"testing"
)

func TestOurVersionLine(t *testing.T) {
	if ourVersionLine != "venti-04:02-replfs\n" {
		t.Errorf("we send %q", ourVersionLine)
	}
}

func TestChooseVersion(t *testing.T) {
	for _, tt := range []struct {
		peer, want string
	}{
		{"venti-04:02-libventi", "04"}, // plan9port
		{"venti-02-libventi", "02"},    // Plan 9, 9front
		{"venti-02:04-koskino", "04"},  // plan9port, walking our line, also picks 04
		{"venti-04-hdonnay/venti", "04"},
		{"venti-04:02", "04"},
		{"venti-05:02-x", "02"},
		{"venti-05-x", ""},
		{"venti-", ""},
		{"venti-x-04", "04"}, // plan9port reads comment tokens too
	} {
		v, err := ParseVersionLine(tt.peer)
		if err != nil {
			t.Errorf("ParseVersionLine(%q): %v", tt.peer, err)
			continue
		}
		got, err := chooseVersion(v)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("chooseVersion(%q) = %q, %v; want %q", tt.peer, got, err, tt.want)
		}
	}
}

func TestReadVersionLine(t *testing.T) {
	for _, tt := range []struct {
		in, err string
	}{
		{"venti-04:02-libventi\nrest", ""},
		{"venti-02-libventi\n", ""},
		{"vent1-02\n", "bad format in version string"},
		{"venti-0\x012\n", "bad format in version string"},
		{"venti-02\xff\n", "bad format in version string"},
		{"venti-02", "unexpected EOF"},
		{"venti-" + strings.Repeat("a", 1100) + "\n", "version too long"},
	} {
		v, err := readVersionLine(bufio.NewReader(strings.NewReader(tt.in)))
		if tt.err == "" {
			if err != nil {
				t.Errorf("%q: %v", tt.in, err)
			} else if v.String() != strings.SplitAfter(tt.in, "\n")[0] {
				t.Errorf("%q: read %q", tt.in, v.String())
			}
			continue
		}
		if err == nil || err.Error() != tt.err {
			t.Errorf("%q: err %v, want %q", tt.in, err, tt.err)
		}
	}
}
