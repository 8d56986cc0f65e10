package venti

import (
	"fmt"
	"net"
	"strconv"
	"strings"
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
// (tcp and defService), and host:port. The host * means every
// interface, for listening. Services are port numbers or names: venti,
// 9fs, http, or any name the system knows.
func ParseDialString(s, defService string) (network, addr string, err error) {
	bad := func() (string, string, error) {
		return "", "", fmt.Errorf("bad address %q", s)
	}
	if s == "" || strings.ContainsAny(s, " \t\n") {
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
	if host == "" {
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
	return net.LookupPort(network, svc)
}
