package fs

import (
	"context"
	"errors"
	"net"
	"testing"

	"9fans.net/go/plan9"
)

// msgs encodes requests one after another.
func msgs(fs ...*plan9.Fcall) []byte {
	var b []byte
	for _, f := range fs {
		m, err := f.Bytes()
		if err != nil {
			panic(err)
		}
		b = append(b, m...)
	}
	return b
}

// FuzzServe feeds raw bytes, after a Tversion and a Tattach of fid 0,
// to one connection: whatever they are, the server neither panics nor
// hangs, sends only well-formed replies, and ends when the client goes.
func FuzzServe(f *testing.F) {
	f.Add(msgs(
		&plan9.Fcall{Type: plan9.Twalk, Tag: 1, Fid: 0, Newfid: 1, Wname: []string{"ctl"}},
		&plan9.Fcall{Type: plan9.Topen, Tag: 2, Fid: 1, Mode: plan9.ORDWR},
		&plan9.Fcall{Type: plan9.Twrite, Tag: 3, Fid: 1, Data: []byte("target a\njob\n")},
		&plan9.Fcall{Type: plan9.Tread, Tag: 4, Fid: 1, Count: 100},
		&plan9.Fcall{Type: plan9.Tstat, Tag: 5, Fid: 1},
		&plan9.Fcall{Type: plan9.Tclunk, Tag: 6, Fid: 1},
	))
	f.Add(msgs(
		&plan9.Fcall{Type: plan9.Twalk, Tag: 1, Fid: 0, Newfid: 1, Wname: []string{"log"}},
		&plan9.Fcall{Type: plan9.Topen, Tag: 2, Fid: 1, Mode: plan9.OREAD},
		&plan9.Fcall{Type: plan9.Tread, Tag: 3, Fid: 1, Count: 100},
		&plan9.Fcall{Type: plan9.Tflush, Tag: 4, Oldtag: 3},
		&plan9.Fcall{Type: plan9.Tread, Tag: 3, Fid: 1, Count: 100},
		&plan9.Fcall{Type: plan9.Tclunk, Tag: 5, Fid: 1},
	))
	f.Add(msgs(
		&plan9.Fcall{Type: plan9.Twalk, Tag: 1, Fid: 0, Newfid: 0, Wname: []string{"jobs", "1", "ctl"}},
		&plan9.Fcall{Type: plan9.Twalk, Tag: 2, Fid: 0, Newfid: 2},
		&plan9.Fcall{Type: plan9.Topen, Tag: 3, Fid: 2, Mode: plan9.OWRITE},
		&plan9.Fcall{Type: plan9.Twrite, Tag: 4, Fid: 2, Data: []byte("cancel")},
		&plan9.Fcall{Type: plan9.Tremove, Tag: 5, Fid: 2},
		&plan9.Fcall{Type: plan9.Tversion, Tag: plan9.NOTAG, Msize: 0, Version: "9P2000"},
	))
	f.Add(append(frame(99, 1), walkFrame(2, "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q")...))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &Server{Engine: newFake()}
		cli, srv := net.Pipe()
		done := make(chan struct{})
		go func() { s.ServeConn(context.Background(), srv); close(done) }()
		replies := make(chan error, 1)
		go func() {
			for {
				if _, err := plan9.ReadFcall(cli); err != nil {
					replies <- err
					return
				}
			}
		}()
		cli.Write(msgs(
			&plan9.Fcall{Type: plan9.Tversion, Tag: plan9.NOTAG, Msize: 8192, Version: "9P2000"},
			&plan9.Fcall{Type: plan9.Tattach, Tag: 0, Fid: 0, Afid: plan9.NOFID, Uname: "glenda"},
		))
		cli.Write(data)
		cli.Close()
		<-done
		var perr plan9.ProtocolError
		if err := <-replies; errors.As(err, &perr) {
			t.Fatalf("bad reply: %v", err)
		}
	})
}
