package peer

import (
	"fmt"
	"strings"
)

// A List is an allow list: the peers a replfs admits, and the servers
// it will talk to. It is read-only once made.
type List struct {
	peers []Peer
}

// ParseList reads an allow list: one peer a line,
//
//	name fingerprint access [address...]
//
// where name is the name in the peer's certificate, fingerprint is
// what `replfs id` prints on the peer, access is ctl (full) or read
// (read-only), and each address is a dial string (tls!host!port) the
// peer is reached at besides tls!name. Blank lines and lines starting
// with # are ignored. A name or fingerprint given twice is an error.
func ParseList(text string) (*List, error) {
	l := &List{}
	for i, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		bad := func(format string, args ...any) (*List, error) {
			return nil, fmt.Errorf("line %d: %s", i+1, fmt.Sprintf(format, args...))
		}
		if len(f) < 3 {
			return bad("want: name fingerprint access [address...]")
		}
		p := Peer{Name: f[0]}
		if !validName(p.Name) {
			return bad("bad name %q", p.Name)
		}
		fp, err := ParseFingerprint(f[1])
		if err != nil {
			return bad("%v", err)
		}
		p.FP = fp
		switch f[2] {
		case "ctl":
			p.Access = Ctl
		case "read":
			p.Access = Read
		default:
			return bad("bad access %q: want ctl or read", f[2])
		}
		for _, a := range f[3:] {
			if _, err := tcpAddr(a); err != nil {
				return bad("%v", err)
			}
			p.Addrs = append(p.Addrs, a)
		}
		for _, q := range l.peers {
			if q.Name == p.Name {
				return bad("%s listed twice", p.Name)
			}
			if q.FP == p.FP {
				return bad("fingerprint of %s listed again for %s", q.Name, p.Name)
			}
		}
		l.peers = append(l.peers, p)
	}
	return l, nil
}

// Peers returns the list's entries.
func (l *List) Peers() []Peer { return append([]Peer(nil), l.peers...) }

// byFP returns the peer whose certificate has fingerprint fp.
func (l *List) byFP(fp Fingerprint) (Peer, bool) {
	for _, p := range l.peers {
		if p.FP == fp {
			return p, true
		}
	}
	return Peer{}, false
}

// at returns the peer pinned for a tls! dial string: the one listing
// the address, else the one named by its host.
func (l *List) at(addr string) (Peer, bool) {
	for _, p := range l.peers {
		for _, a := range p.Addrs {
			if a == addr {
				return p, true
			}
		}
	}
	f := strings.Split(addr, "!")
	if len(f) >= 2 {
		for _, p := range l.peers {
			if p.Name == f[1] {
				return p, true
			}
		}
	}
	return Peer{}, false
}

// with returns l with p added, unless l already has p's fingerprint
// or name.
func (l *List) with(p Peer) *List {
	for _, q := range l.peers {
		if q.FP == p.FP || q.Name == p.Name {
			return l
		}
	}
	return &List{peers: append(l.Peers(), p)}
}
