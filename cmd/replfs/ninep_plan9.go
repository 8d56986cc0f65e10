//go:build plan9

package main

import (
	"context"
	"errors"
)

// On Plan 9 the kernel is the 9P client: mount /srv/replfs and use the
// files.
func ninep(ctx context.Context, e *env, args []string) int {
	return fail(e, "9p", errors.New("on Plan 9, mount /srv/replfs instead"))
}
