package venti

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultPort is venti's conventional TCP port.
const DefaultPort = 17034

// services are the Plan 9 service names we resolve without /etc/services.
var services = map[string]int{
	"venti": DefaultPort,
	"9fs":   564,
	"http":  80,
}

// ParseDialString converts a Plan 9 dial string to a Go network and
// address. It accepts net!host!service (net is tcp, tcp4, tcp6, or net
// meaning tcp), net!host (defService is added), unix!path, a bare host
// (tcp and defService), and host:port. A host is an IP address or a
// domain name; the host * means every interface, for listening.
// Services are port numbers (0 too, for listening) or names: venti,
// 9fs, http, or any name the system knows. CheckDial and CheckAnnounce
// check more.
func ParseDialString(s, defService string) (network, addr string, err error) {
	bad := func() (string, string, error) {
		return "", "", fmt.Errorf("bad address %s", clip(s))
	}
	if s == "" || !printable(s) {
		return bad()
	}
	f := strings.Split(s, "!")
	var netw, host, svc string
	switch len(f) {
	case 1:
		if h, p, err := net.SplitHostPort(s); err == nil && !strings.Contains(p, ":") {
			netw, host, svc = "tcp", h, p
		} else {
			netw, host, svc = "tcp", s, defService
		}
	case 2:
		netw, host, svc = f[0], f[1], defService
	case 3:
		netw, host, svc = f[0], f[1], f[2]
	default:
		return bad()
	}
	switch netw {
	case "unix":
		if len(f) != 2 || host == "" {
			return bad()
		}
		return "unix", host, nil
	case "net":
		netw = "tcp"
	case "tcp", "tcp4", "tcp6":
	default:
		return bad()
	}
	if len(host) > 2 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	if !goodHost(host) {
		return bad()
	}
	if host == "*" {
		host = ""
	}
	port, err := lookupPort(netw, svc)
	if err != nil {
		return bad()
	}
	return netw, net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// CheckDial checks a dial string replfs is to dial: ParseDialString's,
// with a port from 1 to 65535, a host (not *), and for unix an
// absolute path that, if it exists, is a socket.
func CheckDial(s, defService string) error {
	network, addr, err := ParseDialString(s, defService)
	if err != nil {
		return err
	}
	if network == "unix" {
		return checkSocket(s, addr)
	}
	host, port, _ := net.SplitHostPort(addr)
	switch {
	case host == "":
		return fmt.Errorf("bad address %s: no host", clip(s))
	case port == "0":
		return fmt.Errorf("bad address %s: port 0", clip(s))
	}
	return nil
}

// CheckAnnounce checks a dial string something is to listen on:
// ParseDialString's, and for unix an absolute path that, if it exists,
// is a socket, so a listener never takes the place of a file.
func CheckAnnounce(s, defService string) error {
	network, addr, err := ParseDialString(s, defService)
	if err == nil && network == "unix" {
		err = checkSocket(s, addr)
	}
	return err
}

func checkSocket(s, path string) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("bad address %s: not an absolute path", clip(s))
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("bad address %s: not a socket", clip(s))
	}
	return nil
}

// goodHost reports whether h is *, an IP address (IPv6 perhaps with a
// zone), or a domain name: dot-separated labels of letters, digits, '-'
// and '_', none empty or starting or ending with '-'.
func goodHost(h string) bool {
	if h == "*" {
		return true
	}
	ip, zone, hasZone := strings.Cut(h, "%")
	if net.ParseIP(ip) != nil {
		return !hasZone || (zone != "" && strings.Contains(ip, ":"))
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range []byte(l) {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func lookupPort(network, svc string) (int, error) {
	if svc == "" {
		return 0, fmt.Errorf("no service")
	}
	if n, err := strconv.Atoi(svc); err == nil {
		if n < 0 || n > 65535 {
			return 0, fmt.Errorf("bad port")
		}
		return n, nil
	}
	if p, ok := services[svc]; ok {
		return p, nil
	}
	for _, c := range []byte(svc) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return 0, fmt.Errorf("bad service")
		}
	}
	return net.LookupPort(network, svc)
}

// printable reports whether s is UTF-8 of printable characters, no
// blanks.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// clip quotes s as %q does, cut to a short prefix with "..." after when
// longer: an error echoes little of what may be a hostile input.
func clip(s string) string {
	const maxIn, maxOut = 48, 56
	if q := strconv.Quote(s); len(s) <= maxIn && len(q) <= maxOut {
		return q
	}
	n := 0
	for n < len(s) {
		_, w := utf8.DecodeRuneInString(s[n:])
		if n+w > maxIn || len(strconv.Quote(s[:n+w])) > maxOut {
			break
		}
		n += w
	}
	return strconv.Quote(s[:n]) + "..."
}

// DialError is the error of dialing addr, one line in Plan 9 style:
// "dial tcp!backup!17034: connection refused", not Go's nesting of
// the dial, the address and the system call. It still wraps err.
func DialError(addr string, err error) error {
	return &dialError{addr: addr, why: plainNetError(err), err: err}
}

type dialError struct {
	addr, why string
	err       error
}

func (e *dialError) Error() string { return "dial " + e.addr + ": " + e.why }
func (e *dialError) Unwrap() error { return e.err }

// plainNetError says why a network operation failed in a few words.
func plainNetError(err error) string {
	var dns *net.DNSError
	var sys *os.SyscallError
	switch {
	case errors.As(err, &dns):
		if dns.IsNotFound {
			return "no such host " + dns.Name
		}
		if dns.IsTimeout {
			return "lookup " + dns.Name + " timed out"
		}
		return "lookup " + dns.Name + ": " + dns.Err
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded):
		return "timed out"
	case errors.As(err, &sys):
		return sys.Err.Error()
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}
