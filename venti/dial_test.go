package venti

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

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
		{"..", "", ""},
		{"tcp!..!17034", "", ""},
		{"a..b", "", ""},
		{"-a", "", ""},
		{"a\x00b", "", ""},
		{"tcp!$venti!venti", "", ""},
		{"tcp!fs!a/b", "", ""},
		{"unix!/tmp/a\x01b", "", ""},
		{"backup.example.com.", "tcp", "backup.example.com.:17034"},
		{"tcp![::1]!17034", "tcp", "[::1]:17034"},
		{"tcp!fe80::1%eth0!17034", "tcp", "[fe80::1%eth0]:17034"},
		{"tcp!127.0.0.1!0", "tcp", "127.0.0.1:0"},
	} {
		n, a, err := ParseDialString(tt.in, "venti")
		if tt.network == "" {
			if err == nil {
				t.Errorf("ParseDialString(%q) = %s %s, want error", tt.in, n, a)
			} else if want := "bad address " + strconv.Quote(tt.in); err.Error() != want {
				t.Errorf("ParseDialString(%q) error %q, want %q", tt.in, err, want)
			}
			continue
		}
		if err != nil || n != tt.network || a != tt.addr {
			t.Errorf("ParseDialString(%q) = %s %s %v, want %s %s", tt.in, n, a, err, tt.network, tt.addr)
		}
	}
}

// TestCheckDial: what replfs dials must be a real peer: a port, a host,
// and for unix a socket or nothing yet.
func TestCheckDial(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0600)
	for _, tt := range []struct{ in, err string }{
		{"tcp!127.0.0.1!17034", ""},
		{"backup", ""},
		{"unix!" + sock, ""},
		{"unix!" + filepath.Join(dir, "notyet"), ""},
		{"tcp!127.0.0.1!0", `bad address "tcp!127.0.0.1!0": port 0`},
		{"127.0.0.1:0", `bad address "127.0.0.1:0": port 0`},
		{"tcp!*!17034", `bad address "tcp!*!17034": no host`},
		{"unix!/etc/passwd", `bad address "unix!/etc/passwd": not a socket`},
		{"unix!" + dir, `bad address "unix!` + dir + `": not a socket`},
		{"unix!sock", `bad address "unix!sock": not an absolute path`},
		{"..", `bad address ".."`},
	} {
		err := CheckDial(tt.in, "venti")
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || err.Error() != tt.err) {
			t.Errorf("CheckDial(%q) = %v, want %q", tt.in, err, tt.err)
		}
	}
	// Listening: port 0 and * are fine; a file is not a socket.
	for _, tt := range []struct{ in, err string }{
		{"tcp!*!0", ""},
		{"unix!" + filepath.Join(dir, "new"), ""},
		{"unix!" + file, `bad address "unix!` + file + `": not a socket`},
	} {
		err := CheckAnnounce(tt.in, "9fs")
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || err.Error() != tt.err) {
			t.Errorf("CheckAnnounce(%q) = %v, want %q", tt.in, err, tt.err)
		}
	}
	if _, err := Dial(t.Context(), "tcp!127.0.0.1!0"); err == nil || err.Error() != `dial venti: bad address "tcp!127.0.0.1!0": port 0` {
		t.Errorf("Dial port 0: %v", err)
	}
	long := strings.Repeat("\xff", 5000)
	if _, _, err := ParseDialString(long, "venti"); err == nil || len(err.Error()) > 100 {
		t.Errorf("long address: error of %d bytes", len(err.Error()))
	}
}

// A failed dial is one Plan 9 style line naming the dial string.
func TestDialErrorLine(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := "tcp!127.0.0.1!" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	_, err := Dial(t.Context(), addr)
	if err == nil || err.Error() != "dial "+addr+": connection refused" {
		t.Errorf("refused: %v", err)
	}
	_, err = Dial(t.Context(), "tcp!nosuchhost.invalid!17034")
	if err == nil || err.Error() != "dial tcp!nosuchhost.invalid!17034: no such host nosuchhost.invalid" {
		t.Errorf("no host: %v", err)
	}
}
