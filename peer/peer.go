// Package peer authenticates replfs servers to one another: each has a
// key pair and a self-signed certificate in its state directory (its
// identity), and each admits only the peers whose certificate
// fingerprints an allow list pins, over TLS 1.3 with certificates on
// both sides. Trust is in the fingerprint, never in a name or a
// certificate authority; the name in a certificate only has to agree
// with the name the list gives it.
package peer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// A Fingerprint is the SHA-256 of a certificate's DER bytes.
type Fingerprint [sha256.Size]byte

// String gives the fingerprint as an administrator reads it aloud:
// sha256: and sixteen groups of four hex digits.
func (f Fingerprint) String() string {
	h := hex.EncodeToString(f[:])
	var b strings.Builder
	b.WriteString("sha256:")
	for i := 0; i < len(h); i += 4 {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(h[i : i+4])
	}
	return b.String()
}

// ParseFingerprint reads what String writes. The sha256: prefix, the
// dashes (or colons) and the case are optional.
func ParseFingerprint(s string) (Fingerprint, error) {
	var f Fingerprint
	h := strings.TrimPrefix(strings.ToLower(s), "sha256:")
	h = strings.NewReplacer("-", "", ":", "").Replace(h)
	if len(h) != 2*len(f) {
		return f, fmt.Errorf("bad fingerprint %q", s)
	}
	if _, err := hex.Decode(f[:], []byte(h)); err != nil {
		return f, fmt.Errorf("bad fingerprint %q", s)
	}
	return f, nil
}

// Of returns the fingerprint of a DER certificate.
func Of(der []byte) Fingerprint { return sha256.Sum256(der) }

// An Access is what a peer may do on the connections it makes to us.
type Access int

const (
	// Read is read-only: every file may be read, none written.
	Read Access = iota + 1
	// Ctl is full access: ctl and every other file, as the owner.
	Ctl
)

func (a Access) String() string {
	switch a {
	case Read:
		return "read"
	case Ctl:
		return "ctl"
	}
	return fmt.Sprintf("Access(%d)", int(a))
}

// A Peer is one entry of an allow list.
type Peer struct {
	Name   string // the name its certificate must carry
	FP     Fingerprint
	Access Access
	// Addrs are the dial strings it is reached at, besides
	// tls!Name!port for any port.
	Addrs []string
}

// ValidName reports whether s can name a peer: a word of printable
// ASCII without '!' or '#', at most 64 bytes.
func ValidName(s string) bool { return validName(s) }

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == '!' || r == '#' || r >= 0x7f {
			return false
		}
	}
	return true
}
