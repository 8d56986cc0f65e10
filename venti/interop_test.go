package venti

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The captures in ../shared/fixtures/venti-proto: a plan9port client
// talking to a plan9port venti, one connection each, made in this order
// against one venti.
var captureNames = []string{
	"01-write", "02-read", "03-read-missing", "03b-read-missing-alltypes",
	"04-sync", "05-vac", "06-read-root", "07-unvac-list", "08-unvac-extract",
}

// protoDir is where the captures are, relative to this package.
var protoDir = filepath.Join("..", "..", "shared", "fixtures", "venti-proto")

type capture struct {
	name     string
	cversion string   // the client's version line
	sversion string   // the server's
	c2s      [][]byte // client message bodies, Thello first
	s2c      [][]byte // server message bodies, Rhello first
}

func loadCaptures(t *testing.T) []capture {
	t.Helper()
	if _, err := os.Stat(protoDir); err != nil {
		t.Skipf("plan9port captures not found in %s (../shared/fixtures is absent): %v", protoDir, err)
	}
	var cs []capture
	for _, name := range captureNames {
		c := capture{name: name}
		var err error
		c.cversion, c.c2s, err = readCapture(filepath.Join(protoDir, name+".c2s"))
		if err != nil {
			t.Fatal(err)
		}
		c.sversion, c.s2c, err = readCapture(filepath.Join(protoDir, name+".s2c"))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.c2s) != len(c.s2c) {
			t.Fatalf("%s: %d requests but %d replies", name, len(c.c2s), len(c.s2c))
		}
		cs = append(cs, c)
	}
	return cs
}

// readCapture splits one side of a capture into its version line and
// message bodies. Both sides negotiated 04, so frames have 4-byte sizes.
func readCapture(file string) (string, [][]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", nil, err
	}
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return "", nil, errors.New(file + ": no version line")
	}
	frames := splitFrames(b[i+1:], 4)
	if frames == nil {
		return "", nil, errors.New(file + ": bad framing")
	}
	return string(b[:i+1]), frames, nil
}

func splitFrames(b []byte, n int) [][]byte {
	frames := [][]byte{}
	for len(b) > 0 {
		if len(b) < n {
			return nil
		}
		size := int(binary.BigEndian.Uint32(b))
		if n == 2 {
			size = int(binary.BigEndian.Uint16(b))
		}
		if len(b) < n+size {
			return nil
		}
		frames = append(frames, b[n:n+size])
		b = b[n+size:]
	}
	return frames
}

func frame(body []byte) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(len(body))) // header only
}

func sameMeaning(a, b *Fcall) bool {
	return a.Type == b.Type && a.Tag == b.Tag && a.Error == b.Error && a.Sid == b.Sid &&
		a.Rcrypto == b.Rcrypto && a.Rcodec == b.Rcodec && a.Score == b.Score &&
		bytes.Equal(a.Data, b.Data)
}

// TestCapturesAgainstOurServer plays the plan9port client's side of each
// capture to our server, in the order they were made, and checks every
// reply means what plan9port venti's reply meant.
func TestCapturesAgainstOurServer(t *testing.T) {
	caps := loadCaptures(t)
	store := newTestStore()
	srv := &Server{Store: store}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, l); close(done) }()
	defer func() { cancel(); <-done }()

	for _, c := range caps {
		nc, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(nc)
		if _, err := io.WriteString(nc, c.cversion); err != nil {
			t.Fatal(err)
		}
		line, err := br.ReadString('\n')
		if err != nil || line != "venti-04:02-replfs\n" {
			t.Fatalf("%s: our version line %q, %v", c.name, line, err)
		}
		for i, req := range c.c2s {
			nc.Write(append(frame(req), req...))
			got, err := ReadFcall(br, Version04)
			if err != nil {
				t.Fatalf("%s: reply %d: %v", c.name, i, err)
			}
			want, err := UnmarshalFcall(c.s2c[i])
			if err != nil {
				t.Fatalf("%s: capture reply %d: %v", c.name, i, err)
			}
			if !sameMeaning(got, want) {
				t.Errorf("%s: reply %d is %v, plan9port said %v", c.name, i, got, want)
			}
		}
		nc.Close()
	}
}

// TestOurClientBytes replays each capture's server side to our client,
// which makes the same calls the plan9port tool made, and checks it sends
// exactly the plan9port client's bytes: the version line differs only in
// its comment, and our Close adds a Tgoodbye (the plan9port tools just
// hang up).
func TestOurClientBytes(t *testing.T) {
	for _, c := range loadCaptures(t) {
		t.Run(c.name, func(t *testing.T) { replayClient(t, c) })
	}
}

func replayClient(t *testing.T, c capture) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sent := make(chan []byte, 1)
	go func() {
		var got bytes.Buffer
		defer func() { sent <- got.Bytes() }()
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(nc, c.sversion)
		br := bufio.NewReader(nc)
		line, err := br.ReadString('\n')
		got.WriteString(line)
		if err != nil {
			return
		}
		for i := range c.c2s {
			var hdr [4]byte
			if _, err := io.ReadFull(br, hdr[:]); err != nil {
				return
			}
			body := make([]byte, binary.BigEndian.Uint32(hdr[:]))
			if _, err := io.ReadFull(br, body); err != nil {
				return
			}
			got.Write(hdr[:])
			got.Write(body)
			nc.Write(append(frame(c.s2c[i]), c.s2c[i]...))
		}
		io.Copy(&got, br) // whatever follows, up to the hang-up
	}()

	ctx := context.Background()
	conn, err := Dial(ctx, "tcp!"+strings.Replace(l.Addr().String(), ":", "!", 1))
	if err != nil {
		t.Fatal(err)
	}
	for i, body := range c.c2s[1:] {
		tx, err := UnmarshalFcall(body)
		if err != nil {
			t.Fatal(err)
		}
		rx, _ := UnmarshalFcall(c.s2c[i+1])
		switch tx.Type {
		case Tread:
			data, err := conn.Read(ctx, tx.Score, tx.BlockType, int(tx.Count))
			if rx.Type == Rerror {
				if err == nil || err.Error() != rx.Error || !IsNotFound(err) {
					t.Errorf("read %v: err %v, want %q", tx.Score, err, rx.Error)
				}
			} else if err != nil || !bytes.Equal(data, rx.Data) {
				t.Errorf("read %v: %v", tx.Score, err)
			}
		case Twrite:
			s, err := conn.Write(ctx, tx.BlockType, tx.Data)
			if err != nil || s != rx.Score {
				t.Errorf("write: %v %v, want %v", s, err, rx.Score)
			}
		case Tsync:
			if err := conn.Sync(ctx); err != nil {
				t.Errorf("sync: %v", err)
			}
		default:
			t.Fatalf("capture has %v", tx)
		}
	}
	conn.Close()
	got := <-sent

	var want bytes.Buffer
	want.WriteString("venti-04:02-replfs\n")
	for _, body := range c.c2s {
		want.Write(frame(body))
		want.Write(body)
	}
	want.Write([]byte{0, 0, 0, 2, Tgoodbye, 0})
	if c.cversion != "venti-04:02-libventi\n" {
		t.Errorf("capture's client version line %q", c.cversion)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("client sent\n%x\nplan9port sent (with our version comment and Tgoodbye)\n%x", got, want.Bytes())
	}
}
