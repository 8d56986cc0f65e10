package jobs

import (
	"io"
	"net"
	"strconv"
	"testing"
)

// silentServer accepts connections, sends a venti version line and then
// nothing: a target that hangs.
func silentServer(t *testing.T) (string, func()) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				io.WriteString(c, "venti-04:02-silent\n")
				io.Copy(io.Discard, c)
				c.Close()
			}()
		}
	}()
	return "tcp!127.0.0.1!" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port), func() { l.Close() }
}
