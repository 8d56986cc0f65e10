//go:build plan9

package fs

import (
	"context"

	"9fans.net/go/plan9/srv9p"
)

// Post posts the server in /srv/name and serves the pipe until ctx is
// done.
func (s *Server) Post(ctx context.Context, name string) error {
	f, err := srv9p.Post(name)
	if err != nil {
		return err
	}
	go s.ServeConn(ctx, f)
	return nil
}
