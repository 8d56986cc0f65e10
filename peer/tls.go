package peer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"replfs/venti"
)

// Port is the service a tls! dial string without one gets.
const Port = "5641"

// IsTLS reports whether addr is a tls! dial string.
func IsTLS(addr string) bool { return strings.HasPrefix(addr, "tls!") }

// TCPAddr returns the TCP host:port of a tls!host[!port] dial string;
// the host * means every interface.
func TCPAddr(addr string) (string, error) {
	return tcpAddr(addr)
}

func tcpAddr(addr string) (string, error) {
	rest, ok := strings.CutPrefix(addr, "tls!")
	if !ok {
		return "", fmt.Errorf("bad address %q: want tls!host!port", addr)
	}
	network, hp, err := venti.ParseDialString("tcp!"+rest, Port)
	if err != nil || network != "tcp" {
		return "", fmt.Errorf("bad address %q", addr)
	}
	return hp, nil
}

// A Config is one replfs's side of every authenticated connection: its
// identity and its allow list. It is safe for concurrent use.
type Config struct {
	ID *Identity
	// Peers is the allow list's file; "" or a missing file lists no
	// one. The file is read again whenever it changes; while it
	// cannot be read or parsed, no one is admitted and no server is
	// trusted. The identity itself is always admitted, with full
	// access, unless the file gives its fingerprint or name.
	Peers string

	mu    sync.Mutex // protects following
	stamp stamp      // of the file last read
	list  *List
	err   error
}

type stamp struct {
	mod  time.Time
	size int64
	ok   bool
}

// List returns the allow list now in force.
func (c *Config) List() (*List, error) {
	self := Peer{Name: c.ID.Name, FP: c.ID.FP, Access: Ctl}
	if c.Peers == "" {
		return (&List{}).with(self), nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	fi, err := os.Stat(c.Peers)
	if os.IsNotExist(err) {
		c.stamp = stamp{}
		return (&List{}).with(self), nil
	}
	if err != nil {
		return nil, err
	}
	st := stamp{fi.ModTime(), fi.Size(), true}
	if st == c.stamp {
		return c.list, c.err
	}
	c.stamp, c.list, c.err = st, nil, nil
	if fi.Mode().Perm()&0022 != 0 {
		c.err = fmt.Errorf("%s: mode %#o: others may write it", c.Peers, fi.Mode().Perm())
		return nil, c.err
	}
	b, err := os.ReadFile(c.Peers)
	if err != nil {
		c.err = err
		return nil, err
	}
	l, err := ParseList(string(b))
	if err != nil {
		c.err = fmt.Errorf("%s: %w", c.Peers, err)
		return nil, c.err
	}
	c.list = l.with(self)
	return c.list, nil
}

// admit says which peer a client that completed a handshake is, or
// why it is refused.
func (c *Config) admit(cs tls.ConnectionState) (Peer, error) {
	if len(cs.PeerCertificates) == 0 {
		return Peer{}, errors.New("no client certificate")
	}
	cert := cs.PeerCertificates[0]
	fp, name := Of(cert.Raw), cert.Subject.CommonName
	l, err := c.List()
	if err != nil {
		return Peer{}, err
	}
	p, ok := l.byFP(fp)
	if !ok {
		return Peer{}, fmt.Errorf("unknown certificate %s naming %q", fp, name)
	}
	if name != p.Name {
		return Peer{}, fmt.Errorf("certificate %s names %q but is pinned as %s", fp, name, p.Name)
	}
	return p, nil
}

// serverConfig is the TLS configuration of one incoming connection;
// the peer it admits is stored in *who.
func (c *Config) serverConfig(who *Peer) *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS13,
		Certificates:           []tls.Certificate{c.ID.Cert},
		ClientAuth:             tls.RequestClientCert, // admit checks it
		SessionTicketsDisabled: true,                  // every connection shows its certificate
		VerifyConnection: func(cs tls.ConnectionState) error {
			p, err := c.admit(cs)
			*who = p
			return err
		},
	}
}

// A Conn is an authenticated connection.
type Conn struct {
	*tls.Conn
	Peer Peer // who is at the other end

	addr string // the dial string, on a connection we dialed
	us   *Identity
}

// Dial connects to the replfs at a tls!host!port dial string and checks
// that the certificate it shows is the one the allow list pins for
// that address: the peer listing the address, or else the one named by
// its host. A server showing any other certificate is an error naming
// both fingerprints. The handshake takes at most HandshakeTimeout.
// Errors do not repeat addr: the caller names it.
func (c *Config) Dial(ctx context.Context, addr string) (*Conn, error) {
	hp, err := tcpAddr(addr)
	if err != nil {
		return nil, err
	}
	l, err := c.List()
	if err != nil {
		return nil, err
	}
	want, ok := l.at(addr)
	if !ok {
		return nil, errors.New("no peer is pinned for it")
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", hp)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS13,
		Certificates:       []tls.Certificate{c.ID.Cert},
		InsecureSkipVerify: true, // no authorities: VerifyConnection checks the pin
		VerifyConnection: func(cs tls.ConnectionState) error {
			return check(l, want, cs)
		},
	}
	tc := tls.Client(raw, cfg)
	hctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		raw.Close()
		return nil, err
	}
	return &Conn{Conn: tc, Peer: want, addr: addr, us: c.ID}, nil
}

// check says whether the server's certificate is want's.
func check(l *List, want Peer, cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("server showed no certificate")
	}
	cert := cs.PeerCertificates[0]
	fp := Of(cert.Raw)
	if fp != want.FP {
		other := ""
		if p, ok := l.byFP(fp); ok {
			other = ", which is " + p.Name + "'s"
		}
		return fmt.Errorf("fingerprint mismatch: %s is pinned as %s but the server showed %s%s",
			want.Name, want.FP, fp, other)
	}
	if n := cert.Subject.CommonName; n != want.Name {
		return fmt.Errorf("certificate %s names %q but is pinned as %s", fp, n, want.Name)
	}
	return nil
}

// Read reads from the connection. On a dialed connection, a server's
// refusal of our certificate, which TLS 1.3 tells only after the
// handshake, says so.
func (c *Conn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	var op *net.OpError
	if err != nil && c.addr != "" && errors.As(err, &op) && op.Op == "remote error" {
		err = fmt.Errorf("%s refused us (%s %s): %w", c.addr, c.us.Name, c.us.FP, err)
	}
	return n, err
}
