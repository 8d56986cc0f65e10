package venti

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// normalize makes nil and empty slices compare equal.
func normalize(f *Fcall) Fcall {
	g := *f
	if len(g.Crypto) == 0 {
		g.Crypto = nil
	}
	if len(g.Codec) == 0 {
		g.Codec = nil
	}
	if len(g.Data) == 0 {
		g.Data = nil
	}
	return g
}

func FuzzUnmarshalFcall(f *testing.F) {
	for _, tt := range fcallTests {
		f.Add(unhex(f, tt.body))
	}
	// Every message of the plan9port captures.
	for _, name := range captureNames {
		for _, side := range []string{".c2s", ".s2c"} {
			b, err := os.ReadFile(filepath.Join(protoDir, name+side))
			if err != nil {
				continue
			}
			if i := bytes.IndexByte(b, '\n'); i >= 0 {
				for _, body := range splitFrames(b[i+1:], 4) {
					f.Add(body)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fc, err := UnmarshalFcall(b)
		if err != nil {
			return
		}
		enc, err := fc.Bytes()
		if err != nil {
			t.Fatalf("decoded %v but cannot encode: %v", fc, err)
		}
		fc2, err := UnmarshalFcall(enc)
		if err != nil {
			t.Fatalf("re-decode of %x: %v", enc, err)
		}
		if !reflect.DeepEqual(normalize(fc), normalize(fc2)) {
			t.Fatalf("round trip changed %v to %v", fc, fc2)
		}
		enc2, _ := fc2.Bytes()
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not canonical: %x then %x", enc, enc2)
		}
		_ = fc.String()
	})
}

func FuzzVersionLine(f *testing.F) {
	for _, s := range []string{
		"venti-04:02-libventi\n", "venti-02-libventi\n", "venti-04:02-replfs\n",
		"venti-02:04-koskino\n", "venti-\n", "venti-04\n", "venti-x-y-z\n", "nope\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := readVersionLine(bufio.NewReader(strings.NewReader(s)))
		if err != nil {
			return
		}
		line := v.String()
		v2, err := ParseVersionLine(line)
		if err != nil {
			t.Fatalf("%q parsed, but its String %q does not: %v", s, line, err)
		}
		if v2.String() != line {
			t.Fatalf("round trip %q -> %q", line, v2.String())
		}
		c1, err1 := chooseVersion(v)
		c2, err2 := chooseVersion(v2)
		if c1 != c2 || (err1 == nil) != (err2 == nil) {
			t.Fatalf("choice changed in round trip: %q/%v vs %q/%v", c1, err1, c2, err2)
		}
	})
}
