//go:build !plan9

package fs

import (
	"context"
	"errors"
)

// Post is for Plan 9, which has /srv; elsewhere the command posts a unix
// socket in the name space directory instead.
func (s *Server) Post(ctx context.Context, name string) error {
	return errors.New("post: no /srv here")
}
