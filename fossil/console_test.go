package fossil

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"replfs/fossil/fossiltest"
	"replfs/venti/ventitest"
)

// consoleLog is the fixture: every byte a plan9port fossil wrote on its
// console during one session.
func consoleLog(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ventitest.Fixtures(t, "fossil"), "console.log"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The session's commands, as the fixtures' README lists them.
var consoleCmds = []string{
	"srv", "listen", "printconfig", "fsys main df", "fsys main snaptime",
	"fsys main create /active/cons.txt adm sys 0664",
	"fsys main create /active/consdir adm sys d775",
	"fsys main snap -a", "fsys main sync", "fsys main snap -a", "fsys main sync",
	"fsys main df", "who", "fsys main sync", "fsys main halt",
}

func TestParseTranscript(t *testing.T) {
	log := consoleLog(t)
	head, steps, err := fossiltest.ParseTranscript(log)
	if err != nil {
		t.Fatal(err)
	}
	if string(head) != "prompt: " {
		t.Errorf("head %q", head)
	}
	var cmds []string
	all := bytes.Clone(head)
	for _, s := range steps {
		cmds = append(cmds, s.Cmd)
		all = append(append(all, s.Out...), s.Async...)
	}
	if !reflect.DeepEqual(cmds, consoleCmds) {
		t.Errorf("commands\n%q\nwant\n%q", cmds, consoleCmds)
	}
	if !bytes.Equal(all, log) {
		t.Errorf("steps do not give back the transcript")
	}
	if string(steps[7].Async) != "archive vac:51c25c52bfe3e7b5be6891c5f218d9d14fb8ddcd\n" {
		t.Errorf("first snap's async %q", steps[7].Async)
	}
}

// archiveDelay is how long after snap -a the fixture's first archive
// line came.
const archiveDelay = 11 * time.Second

func newReplay(t *testing.T) *fossiltest.Replay {
	head, steps, err := fossiltest.ParseTranscript(consoleLog(t))
	if err != nil {
		t.Fatal(err)
	}
	return fossiltest.NewReplay(head, steps, archiveDelay)
}

// TestConsoleReplay drives the console through the whole fixture
// session against a double that answers with the transcript's bytes,
// on a fake clock: each command's output, the slow archive lines (one
// waited for with a deadline too short, then long enough; one arriving
// while the next command waits), and the bytes exchanged.
func TestConsoleReplay(t *testing.T) {
	log := consoleLog(t)
	synctest.Test(t, func(t *testing.T) {
		r := newReplay(t)
		ctx := context.Background()
		c, err := NewConsole(ctx, r.Conn(), false)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		want := map[int]string{
			0:  "\tfxfossil\t0",
			1:  "\ttcp!127.0.0.1!5660\t/dev/fd/7",
			2:  "\tfsys main config fossil.part\n\tfsys main venti tcp!127.0.0.1!17040",
			3:  "\tmain: 40,960 used + 16,547,840 free = 16,588,800 (0.2% used)",
			4:  "\tsnaptime -a none -s none -t none",
			5:  "",
			7:  "",
			8:  "\tmain sync: wrote 14 blocks",
			10: "\tmain sync: wrote 9 blocks",
			12: "\tconsole \n\tunknown ",
			13: "\tmain sync: wrote 0 blocks",
			14: "",
		}
		for i, cmd := range consoleCmds {
			start := time.Now()
			out, err := c.Cmd(ctx, cmd)
			if err != nil {
				t.Fatalf("%s: %v", cmd, err)
			}
			if w, ok := want[i]; ok && out != w {
				t.Errorf("%s: output %q, want %q", cmd, out, w)
			}
			switch i {
			case 7: // the first snap: wait for its archive
				if d := time.Since(start); d != 0 {
					t.Errorf("snap -a took %v: it returns at once", d)
				}
				short, cancel := context.WithTimeout(ctx, 5*time.Second)
				_, err := c.WaitArchive(short, 0)
				cancel()
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("archive within 5s: %v", err)
				}
				long, cancel := context.WithTimeout(ctx, time.Minute)
				s, err := c.WaitArchive(long, 0)
				cancel()
				if err != nil || s.String() != "51c25c52bfe3e7b5be6891c5f218d9d14fb8ddcd" {
					t.Errorf("archive: %v %v", s, err)
				}
				if d := time.Since(start); d != archiveDelay {
					t.Errorf("archive after %v, want %v", d, archiveDelay)
				}
			case 10: // the sync typed right after the second snap waits for its archive line
				if d := time.Since(start); d != archiveDelay {
					t.Errorf("sync after the second snap took %v", d)
				}
				if ev := c.Events(); len(ev) != 2 || ev[1] != "archive vac:0842818bc4e6acc5ed5ca517cb45cb760844e9ed" {
					t.Errorf("events %q", ev)
				}
			}
		}
		synctest.Wait() // the double has recorded what it wrote
		if err := r.Err(); err != nil {
			t.Error(err)
		}
		if !reflect.DeepEqual(r.Commands(), consoleCmds) {
			t.Errorf("commands sent %q", r.Commands())
		}
		if !bytes.Equal(r.Written(), log) {
			t.Errorf("bytes exchanged differ from console.log:\n%q", r.Written())
		}

		// A fossil that does not answer: the command times out.
		ctx30, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		start := time.Now()
		_, err = c.Cmd(ctx30, "fsys main sync")
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "fsys main sync") {
			t.Errorf("unanswered command: %v", err)
		}
		if d := time.Since(start); d != 30*time.Second {
			t.Errorf("timed out after %v", d)
		}
		// The next command waits for the prompt the last one never got.
		ctx1, cancel1 := context.WithTimeout(ctx, time.Second)
		defer cancel1()
		if _, err := c.Cmd(ctx1, "who"); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "waiting for the prompt") {
			t.Errorf("command after a lost prompt: %v", err)
		}
	})
}

func TestConsoleRefuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newReplay(t)
		ctx := context.Background()
		c, err := NewConsole(ctx, r.Conn(), false)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		long := "fsys main create /active/" + strings.Repeat("x", MaxLine) + " adm sys 0664"
		if _, err := c.Cmd(ctx, long); !errors.Is(err, ErrLineTooLong) {
			t.Errorf("long line: %v", err)
		}
		if _, err := c.Cmd(ctx, "srv\nhalt"); err == nil {
			t.Errorf("two lines accepted")
		}
		if out, err := c.Cmd(ctx, "srv"); err != nil || out != "\tfxfossil\t0" {
			t.Errorf("srv after refusals: %q %v", out, err)
		}
		if got := r.Commands(); len(got) != 1 {
			t.Errorf("refused commands reached fossil: %q", got)
		}
	})
}

// TestConsoleArchiveTakesPrompt: an archive line right after a prompt,
// in the same read, still ends the command.
func TestConsoleArchiveTakesPrompt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := fossiltest.NewReplay([]byte("main: "), []fossiltest.Step{{
			Cmd: "fsys main sync",
			Out: []byte("fsys main sync\n\tmain sync: wrote 3 blocks\nmain: archive vac:0842818bc4e6acc5ed5ca517cb45cb760844e9ed\n"),
		}}, 0)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := NewConsole(ctx, r.Conn(), false)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		out, err := c.Cmd(ctx, "fsys main sync")
		if err != nil || out != "\tmain sync: wrote 3 blocks" {
			t.Errorf("sync: %q %v", out, err)
		}
		if ev := c.Events(); len(ev) != 1 {
			t.Errorf("events %q", ev)
		}
	})
}

// TestConsoleClosed: a console whose fossil goes away fails commands
// with ErrClosed instead of hanging.
func TestConsoleClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := fossiltest.NewReplay([]byte("main: "), nil, 0)
		ctx := context.Background()
		c, err := NewConsole(ctx, r.Conn(), false)
		if err != nil {
			t.Fatal(err)
		}
		r.Hangup()
		if _, err := c.Cmd(ctx, "fsys main sync"); !errors.Is(err, ErrClosed) {
			t.Errorf("command on a dead console: %v", err)
		}
		c.Close()
	})
}
