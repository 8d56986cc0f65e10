package ctl

import (
	"errors"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"replfs/venti"
)

func TestTokenize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
		err  bool
	}{
		{"target backup tcp!backup!17034", []string{"target", "backup", "tcp!backup!17034"}, false},
		{"  a\t b  ", []string{"a", "b"}, false},
		{"'a b' c", []string{"a b", "c"}, false},
		{"'it''s' x", []string{"it's", "x"}, false},
		{"a'b c'd", []string{"ab cd"}, false},
		{"''", []string{""}, false},
		{"trickle -R (00:00 .. 23:59) local backup", []string{"trickle", "-R", "(00:00 .. 23:59)", "local", "backup"}, false},
		{"(Saturday .. Monday)", []string{"(Saturday .. Monday)"}, false},
		{`trickle -R "(00:00 .. 23:59)" local backup`, []string{"trickle", "-R", "(00:00 .. 23:59)", "local", "backup"}, false},
		{`"(00:00 .. 23:59) x`, nil, true},
		{"((a) b)", []string{"((a) b)"}, false},
		{"'unterminated", nil, true},
		{"(open", nil, true},
		{"", nil, false},
	} {
		got, err := Tokenize(tt.in)
		if (err != nil) != tt.err || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Tokenize(%q) = %q, %v", tt.in, got, err)
		}
	}
	for _, s := range []string{"plain", "", "a b", "it's", "(x)", "#c"} {
		if f, err := Tokenize(Quote(s)); err != nil || len(f) != 1 || f[0] != s {
			t.Errorf("Quote(%q) = %q reads back %q %v", s, Quote(s), f, err)
		}
	}
}

var sc1c94, _ = venti.ParseScore("1c94de5d65de1a7370e6f1dc43e345c0ea721fab")

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Cmd
		err  string
	}{
		{"target backup tcp!backup!17034", Target{Name: "backup", Addr: "tcp!backup!17034"}, ""},
		{"target -d backup", Target{Name: "backup", Delete: true}, ""},
		{"target off s3://backup/site/venti?endpoint=127.0.0.1:8333&tls=0", Target{Name: "off", Addr: "s3://backup/site/venti?endpoint=127.0.0.1:8333&tls=0"}, ""},
		{"target off 's3://backup/a b'", nil, `bad address "s3://backup/a b"`},
		{"ventiprog s3://backup/site", Ventiprog{Targets: []string{"s3://backup/site"}}, ""},
		{"target -c 4 -r 1m backup tcp!backup!17034", Target{Name: "backup", Addr: "tcp!backup!17034", Rate: 1 << 20, Conns: 4}, ""},
		{"target -c 0 backup tcp!backup!17034", nil, `target: bad connection count "0" (1 to 64)`},
		{"target -c 65 backup tcp!backup!17034", nil, `target: bad connection count "65" (1 to 64)`},
		{"target -c x backup tcp!backup!17034", nil, `target: bad connection count "x" (1 to 64)`},
		{"target -d -c 2 backup", nil, "usage: target [-r rate] [-c conns] name addr | target -d name"},
		{"target backup", nil, "usage: target [-r rate] [-c conns] name addr | target -d name"},
		{"target local tcp!x!1", nil, `bad target name "local"`},
		{"target a/b tcp!x!1", nil, `bad target name "a/b"`},
		{"target b il!x!1", nil, `bad address "il!x!1"`},
		{"target b tcp!127.0.0.1!0", nil, `bad address "tcp!127.0.0.1!0": port 0`},
		{"target b unix!/etc/passwd", nil, `bad address "unix!/etc/passwd": not a socket`},
		{"target b ..", nil, `bad address ".."`},
		{"target b unix!/nonexistent/venti.sock", Target{Name: "b", Addr: "unix!/nonexistent/venti.sock"}, ""},
		{"source -H unix!/tmp/x tcp!fs!17034 a", nil, `source: bad http address "unix!/tmp/x"`},
		{"source tcp!*!17034 a", nil, `bad address "tcp!*!17034": no host`},
		{"ventiprog ..", nil, `ventiprog: bad address ".."`},
		{"ventiprog unix!/etc/passwd", nil, `ventiprog: bad address "unix!/etc/passwd": not a socket`},
		{"copy local tcp!127.0.0.1!0 vac:1c94de5d65de1a7370e6f1dc43e345c0ea721fab", nil, `copy: bad address "tcp!127.0.0.1!0": port 0`},
		{"fossil -l unix!/etc/passwd part", nil, `fossil: -l: bad address "unix!/etc/passwd": not a socket`},
		{"fossil -l tcp!*!0 part", Fossil{Partition: "part", Listen: "tcp!*!0"}, ""},
		{"cpsys unix!/etc/passwd tcp!b!1", nil, `cpsys: bad address "unix!/etc/passwd": not a socket`},
		{"trickle local unix!/etc/passwd", nil, `trickle: bad destination "unix!/etc/passwd"`},
		{"fossil -p fossil part", nil, `fossil: program "fossil" is not an absolute path`},
		{"fossil -p '/bin/fossil/fossil\r' part", nil, `fossil: program "/bin/fossil/fossil\r" is not an absolute path`},
		{"fossil -c /usr/glenda/lib/profile part", nil, `fossil: console "/usr/glenda/lib/profile" is not a file in /srv`},
		{"fossil -c /srv/../usr/glenda/lib/profile part", nil, `fossil: console "/srv/../usr/glenda/lib/profile" is not a file in /srv`},
		{"source tcp!fs!17034 'a\nb'", nil, `source: bad partition "a\nb"`},
		{"target 'a\x00b' tcp!x!1", nil, `bad target name "a\x00b"`},
		{"target a\x01b tcp!x!1", nil, `bad target name "a\x01b"`},
		{"target a\u00a0b tcp!x!1", nil, `bad target name "a\u00a0b"`},
		{"target a\xffb tcp!x!1", nil, `bad target name "a\xffb"`},
		{"target a\x7f tcp!x!1", nil, `bad target name "a\x7f"`},
		{"target \u00e9t\u00e9 tcp!x!1", Target{Name: "\u00e9t\u00e9", Addr: "tcp!x!1"}, ""},
		{"fossil -n 'a\rb' part", nil, `fossil: bad fsname "a\rb"`},
		{"fossil 'a\rb'", nil, `fossil: bad partition "a\rb"`},
		{"fossilstart part 'a\x00'", nil, `fossilstart: bad name "a\x00"`},
		{"snap 'a\x1b'", nil, `snap: bad fsys "a\x1b"`},
		{"target -x b", nil, "usage: target [-r rate] [-c conns] name addr | target -d name"},
		{"source tcp!fs!17034 /dev/sdC0/arenas", Source{Addr: "tcp!fs!17034", Partitions: []string{"/dev/sdC0/arenas"}}, ""},
		{"source -H tcp!fs!8000 tcp!fs!17034 a b", Source{Addr: "tcp!fs!17034", HTTP: "tcp!fs!8000", Partitions: []string{"a", "b"}}, ""},
		{"source -d", Source{Delete: true}, ""},
		{"source tcp!fs!17034", nil, "usage: source [-H httpaddr] addr partition... | source -d"},
		{"source -H", nil, "usage: source [-H httpaddr] addr partition... | source -d"},
		{"ventiprog", Ventiprog{}, ""},
		{"ventiprog -n backup tcp!other!17034", Ventiprog{DryRun: true, Targets: []string{"backup", "tcp!other!17034"}}, ""},
		{"ventiprog -x", nil, "usage: ventiprog [-nq] [target ...]"},
		{"ventiprog -q backup", Ventiprog{Quick: true, Targets: []string{"backup"}}, ""},
		{"copy local backup vac:1c94de5d65de1a7370e6f1dc43e345c0ea721fab", Copy{Src: "local", Dst: "backup", Scores: []venti.Score{sc1c94}}, ""},
		{"copy -f -w 16 tcp!a!1 backup 1c94de5d65de1a7370e6f1dc43e345c0ea721fab", Copy{Fast: true, Window: 16, Src: "tcp!a!1", Dst: "backup", Scores: []venti.Score{sc1c94}}, ""},
		{"copy local backup", nil, "usage: copy [-f] [-w window] src dst score..."},
		{"copy -w 0 a b vac:1c94de5d65de1a7370e6f1dc43e345c0ea721fab", nil, `copy: bad window "0"`},
		{"copy a b vac:xyz", nil, `copy: bad score "vac:xyz"`},
		{"copy a!b!c!d b vac:1c94de5d65de1a7370e6f1dc43e345c0ea721fab", nil, `copy: bad address "a!b!c!d"`},
		{"verify backup", Verify{Target: "backup"}, ""},
		{"verify -r local vac:1c94de5d65de1a7370e6f1dc43e345c0ea721fab", Verify{ReadAll: true, Target: "local", Scores: []venti.Score{sc1c94}}, ""},
		{"verify", nil, "usage: verify [-r] target [score...]"},
		{"ventiprog x!y!z!w", nil, `ventiprog: bad address "x!y!z!w"`},
		{"cancel 3", Cancel{Job: 3}, ""},
		{"cancel x", nil, "usage: cancel job"},
		{"cancel", nil, "usage: cancel job"},
		{"fossil /dev/sdC0/fossil", Fossil{Partition: "/dev/sdC0/fossil"}, ""},
		{"fossil -f -h backup -l tcp!*!5640 -n fs -p /opt/fossil -c /srv/fscons part", Fossil{Partition: "part", UseConfig: true, Venti: "backup", Listen: "tcp!*!5640", Fsname: "fs", Program: "/opt/fossil", Console: "/srv/fscons"}, ""},
		{"fossil -d", Fossil{Delete: true}, ""},
		{"fossil -d part", nil, "usage: " + usageFossil},
		{"fossil", nil, "usage: " + usageFossil},
		{"fossil tcp!fs!17034", nil, `fossil: partition "tcp!fs!17034" looks like a network address`},
		{"fossil -h a!b!c!d part", nil, `fossil: bad address "a!b!c!d"`},
		{"fossil -l il!x part", nil, `fossil: -l: bad address "il!x"`},
		{"snap", Snap{}, ""},
		{"snap -t 60 other", Snap{Fsys: "other", Timeout: 60}, ""},
		{"snap -t 0", nil, `snap: bad timeout "0"`},
		{"snap all", nil, `snap: bad fsys "all"`},
		{"snap a b", nil, "usage: " + usageSnap},
		{"fossilize", Fossilize{}, ""},
		{"fossilize /dev/sdC0/fossil", Fossilize{Partition: "/dev/sdC0/fossil"}, ""},
		{"fossilize a b", nil, "usage: " + usageFossilize},
		{"fosreset vac:1c94de5d65de1a7370e6f1dc43e345c0ea721fab", Fosreset{Score: sc1c94}, ""},
		{"fosreset 1C94DE5D65DE1A7370E6F1DC43E345C0EA721FAB /dev/sdC0/fossil tcp!backup!17034", Fosreset{Score: sc1c94, Partition: "/dev/sdC0/fossil", Venti: "tcp!backup!17034"}, ""},
		{"fosreset vac:1c94de5d65de1a7370e6f1dc43e345c0ea721fab part local", Fosreset{Score: sc1c94, Partition: "part", Venti: "local"}, ""},
		{"fosreset vac:1c94de5d65de1a7370e6f1dc43e345c0ea721fab tcp!backup!17034 part", nil, `fosreset: partition "tcp!backup!17034" looks like a network address`},
		{"fosreset ffs:1c94de5d65de1a7370e6f1dc43e345c0ea721fab", nil, `fosreset: bad score "ffs:1c94de5d65de1a7370e6f1dc43e345c0ea721fab"`},
		{"fosreset vac:da39a3ee5e6b4b0d3255bfef95601890afd80709", nil, "fosreset: vac:da39a3ee5e6b4b0d3255bfef95601890afd80709 is the zero score: no archive"},
		{"fosreset vac:123", nil, `fosreset: bad score "vac:123"`},
		{"fosreset", nil, "usage: " + usageFosreset},
		{"fossilstart", Fossilstart{}, ""},
		{"fossilstart -f /dev/sdC0/fossil backup", Fossilstart{UseConfig: true, Partition: "/dev/sdC0/fossil", Name: "backup"}, ""},
		{"fossilstart part a/b", nil, `fossilstart: bad name "a/b"`},
		{"foshalt", Foshalt{}, ""},
		{"foshalt now", nil, "usage: foshalt"},
		{"cpsys tcp!fs!5640 tcp!backup!5640", Cpsys{Src: "tcp!fs!5640", Dst: "tcp!backup!5640"}, ""},
		{"cpsys unix!/tmp/ns/replfs backup:5640", Cpsys{Src: "unix!/tmp/ns/replfs", Dst: "backup:5640"}, ""},
		{"cpsys tls!fs!5641 tls!backup", Cpsys{Src: "tls!fs!5641", Dst: "tls!backup"}, ""},
		{"cpsys tls!fs!5641 tls!", nil, `cpsys: bad address "tls!"`},
		{"cpsys fs", nil, "usage: cpsys src dst"},
		{"cpsys il!fs tcp!b!1", nil, `cpsys: bad address "il!fs"`},
		{"frob", nil, `unknown control message "frob"`},
		{"", nil, "empty control message"},
		{"target 'a b", nil, "bad control message: unmatched quote"},
	} {
		got, err := Parse(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("Parse(%q): err %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q) = %#v, %v; want %#v", tt.in, got, err, tt.want)
			continue
		}
		// The command reads back from its own text.
		back, err := Parse(got.String())
		if err != nil || !reflect.DeepEqual(back, got) {
			t.Errorf("Parse(%q.String() = %q) = %#v, %v", tt.in, got.String(), back, err)
		}
	}
	if _, err := Parse("target b"); !errors.Is(err, ErrUsage) {
		t.Errorf("usage error not ErrUsage: %v", err)
	}
}

func TestParseText(t *testing.T) {
	cmds, err := ParseText("# set up\ntarget a tcp!a!1\n\n  target b tcp!b!1\nventiprog\n")
	if err != nil || len(cmds) != 3 {
		t.Fatalf("ParseText: %v %v", cmds, err)
	}
	if _, err := ParseText("target a tcp!a!1\nfrob\n"); err == nil || err.Error() != `line 2: unknown control message "frob"` {
		t.Errorf("bad second line: %v", err)
	}
	if _, err := ParseText("# only a comment\n"); err == nil {
		t.Error("empty write accepted")
	}
}

// TestManual: docs/replfs.4 documents every verb of the table.
func TestManual(t *testing.T) {
	b, err := os.ReadFile("../docs/replfs.4")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Verbs {
		re := regexp.MustCompile(`(?m)^\.B ` + regexp.QuoteMeta(v.Name) + `( |$)`)
		if !re.Match(b) {
			t.Errorf("docs/replfs.4 has no .B %s line for the ctl verb", v.Name)
		}
	}
}

func FuzzParseCtl(f *testing.F) {
	for _, s := range []string{"target backup tcp!backup!17034", "source -H tcp!fs!8000 tcp!fs!17034 a",
		"ventiprog -n a", "cancel 12", "trickle -R (00:00 .. 23:59) local backup", "'a''b' (c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			if len(err.Error()) > maxErr {
				t.Fatalf("error of %d bytes: %.200s", len(err.Error()), err)
			}
			return
		}
		back, err := Parse(c.String())
		if err != nil || !reflect.DeepEqual(back, c) {
			t.Fatalf("%q -> %#v -> %q -> %#v, %v", s, c, c.String(), back, err)
		}
	})
}

// TestErrorsBounded: an error echoes at most a short prefix of its
// input, whatever the input: 9P keeps 127 bytes of an error anyway.
func TestErrorsBounded(t *testing.T) {
	long := []string{strings.Repeat("a", 5000), strings.Repeat("\xff", 5000), strings.Repeat("\u2028", 2000),
		"(" + strings.Repeat("\xfe", 3000) + " .. " + strings.Repeat("\xfe", 3000) + ")"}
	var lines []string
	for _, l := range long {
		lines = append(lines, l)
		for _, v := range Verbs {
			for _, pre := range []string{"", "-h ", "-p ", "-l ", "-n ", "-c ", "-t ", "-w ", "-r ", "-H ", "x ", "vac:1c94de5d65de1a7370e6f1dc43e345c0ea721fab "} {
				lines = append(lines, v.Name+" "+pre+Quote(l), v.Name+" "+pre+Quote(l)+" "+Quote(l), v.Name+" "+pre+"a "+Quote(l))
			}
		}
	}
	for _, line := range lines {
		_, err := Parse(line)
		if err != nil && len(err.Error()) > maxErr {
			t.Errorf("Parse(%.40q...): error of %d bytes: %.200s", line, len(err.Error()), err)
		}
	}
	if _, err := Parse(strings.Repeat("\xff", 5000)); err == nil || err.Error() != `unknown control message "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"...` {
		t.Errorf("long unknown verb: %.200v", err)
	}
}

// maxErr bounds an error's length.
const maxErr = 256
