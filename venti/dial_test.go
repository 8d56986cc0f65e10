package venti

import "testing"

func TestParseDialString(t *testing.T) {
	for _, tt := range []struct {
		in, network, addr string
	}{
		{"tcp!backup!17034", "tcp", "backup:17034"},
		{"tcp!backup!venti", "tcp", "backup:17034"},
		{"net!backup!venti", "tcp", "backup:17034"},
		{"tcp!backup", "tcp", "backup:17034"},
		{"backup", "tcp", "backup:17034"},
		{"backup:17035", "tcp", "backup:17035"},
		{"127.0.0.1:1", "tcp", "127.0.0.1:1"},
		{"[::1]:17034", "tcp", "[::1]:17034"},
		{"tcp!::1!17034", "tcp", "[::1]:17034"},
		{"::1", "tcp", "[::1]:17034"},
		{"tcp!*!17034", "tcp", ":17034"},
		{"tcp!fs!9fs", "tcp", "fs:564"},
		{"tcp6!fs!5640", "tcp6", "fs:5640"},
		{"unix!/tmp/ns.x/replfs", "unix", "/tmp/ns.x/replfs"},
		{"", "", ""},
		{"x", "tcp", "x:17034"},
		{"il!fs!17034", "", ""},
		{"tcp!fs!nosuchservice", "", ""},
		{"tcp!fs!70000", "", ""},
		{"tcp!!17034", "", ""},
		{"tcp!a!b!c", "", ""},
		{"unix!", "", ""},
		{"a b", "", ""},
	} {
		n, a, err := ParseDialString(tt.in, "venti")
		if tt.network == "" {
			if err == nil {
				t.Errorf("ParseDialString(%q) = %s %s, want error", tt.in, n, a)
			} else if want := `bad address "` + tt.in + `"`; err.Error() != want {
				t.Errorf("ParseDialString(%q) error %q, want %q", tt.in, err, want)
			}
			continue
		}
		if err != nil || n != tt.network || a != tt.addr {
			t.Errorf("ParseDialString(%q) = %s %s %v, want %s %s", tt.in, n, a, err, tt.network, tt.addr)
		}
	}
}
