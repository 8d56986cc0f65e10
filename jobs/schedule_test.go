package jobs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"replfs/ctl"
	"replfs/venti"
)

// These run on synctest's fake clock, which starts at 2000-01-01
// 00:00:00 UTC, a Saturday.

func testJob() *job {
	return newJob(1, ctl.Trickle{Pairs: []ctl.Pair{{Src: "local", Dst: "backup"}}}, time.Now(), func(error) {})
}

// runSchedule runs s in the bubble and returns a channel with its end.
func runSchedule(s schedule, j *job, t transfer) chan error {
	done := make(chan error, 1)
	go func() {
		err := s.run(context.Background(), j, t)
		j.finish(time.Now(), err)
		done <- err
	}()
	return done
}

func statusLine(j *job, key string) string {
	for _, l := range strings.Split(j.status(), "\n") {
		if k, v, _ := strings.Cut(l, " "); k == key {
			return v
		}
	}
	return ""
}

// TestScheduleRepeat: -R runs again every repeatseconds, from the start
// of one run to the next, until cancelled.
func TestScheduleRepeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		j := testJob()
		var starts []time.Duration
		s := schedule{repeat: true, every: 1800 * time.Second, maxRetries: 10, retry: 20 * time.Second}
		done := runSchedule(s, j, func(ctx context.Context, stop <-chan struct{}) error {
			starts = append(starts, time.Since(t0))
			time.Sleep(100 * time.Second) // the transfer
			return nil
		})
		time.Sleep(3*1800*time.Second + 200*time.Second)
		synctest.Wait()
		want := []time.Duration{0, 1800 * time.Second, 3600 * time.Second, 5400 * time.Second}
		if len(starts) != len(want) {
			t.Fatalf("runs at %v, want %v", starts, want)
		}
		for i := range want {
			if starts[i] != want[i] {
				t.Errorf("run %d at %v, want %v", i, starts[i], want[i])
			}
		}
		if got := statusLine(j, "state") + " " + statusLine(j, "detail"); got != "sleeping until next repeat 2000-01-01T02:00:00Z" {
			t.Errorf("state %q", got)
		}
		if got := statusLine(j, "next"); got != "2000-01-01T02:00:00Z" {
			t.Errorf("next %q", got)
		}
		if got := statusLine(j, "runs"); got != "4" {
			t.Errorf("runs %q", got)
		}
		j.requestStop(errCancelled)
		if err := <-done; !errors.Is(err, errCancelled) {
			t.Errorf("after cancel: %v", err)
		}
		if got := statusLine(j, "state"); got != Cancelled {
			t.Errorf("state after cancel %q", got)
		}
	})
}

// TestScheduleWindow: a transfer running when its window closes stops
// at a committed point (the unit under way finishes, nothing more) and
// goes on from there at the next opening.
func TestScheduleWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, err := ctl.ParseWindow("(00:00 .. 01:00)")
		if err != nil {
			t.Fatal(err)
		}
		const units = 13
		committed := 0
		var at []time.Time // when each unit was committed
		j := testJob()
		s := schedule{window: w, maxRetries: 10, retry: 20 * time.Second}
		done := runSchedule(s, j, func(ctx context.Context, stop <-chan struct{}) error {
			for committed < units {
				time.Sleep(7 * time.Minute) // one unit
				committed++
				at = append(at, time.Now())
				select {
				case <-stop:
					return errWindowClosed
				default:
				}
			}
			return nil
		})
		time.Sleep(12 * time.Hour)
		synctest.Wait()
		// 8 units by 00:56, the 9th under way at 01:00 ends at 01:03.
		if committed != 9 || !at[8].Equal(time.Date(2000, 1, 1, 1, 3, 0, 0, time.UTC)) {
			t.Errorf("day 1: %d units, last at %v", committed, at[len(at)-1])
		}
		if got := statusLine(j, "state") + " " + statusLine(j, "detail"); got != "waiting for window until 2000-01-02T00:00:00Z" {
			t.Errorf("state %q", got)
		}
		if got := statusLine(j, "window"); got != "(00:00 .. 01:00)" {
			t.Errorf("window %q", got)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if committed != units {
			t.Errorf("%d units done, want %d", committed, units)
		}
		if !at[9].Equal(time.Date(2000, 1, 2, 0, 7, 0, 0, time.UTC)) || !at[12].Equal(time.Date(2000, 1, 2, 0, 28, 0, 0, time.UTC)) {
			t.Errorf("day 2 units at %v .. %v", at[9], at[12])
		}
		if got := statusLine(j, "runs"); got != "2" {
			t.Errorf("runs %q", got)
		}
	})
}

var errRefused = &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}

// TestScheduleRetry: a target that refuses three times and then
// accepts is tried at 0, 20, 60 and 140 s (20 s, doubling).
func TestScheduleRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		var calls []time.Duration
		j := testJob()
		s := schedule{maxRetries: 10, retry: 20 * time.Second}
		done := runSchedule(s, j, func(ctx context.Context, stop <-chan struct{}) error {
			calls = append(calls, time.Since(t0))
			if len(calls) <= 3 {
				return errRefused
			}
			return nil
		})
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if got := statusLine(j, "state") + " " + statusLine(j, "detail"); got != "retrying in 40s, attempt 2/10" {
			t.Errorf("state at 30s %q", got)
		}
		if got := statusLine(j, "lasterror"); !strings.Contains(got, "connection refused") {
			t.Errorf("lasterror %q", got)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		want := []time.Duration{0, 20 * time.Second, 60 * time.Second, 140 * time.Second}
		if len(calls) != 4 || calls[1] != want[1] || calls[2] != want[2] || calls[3] != want[3] {
			t.Errorf("tries at %v, want %v", calls, want)
		}
	})
	// Corrupt data and server errors are not retried; retries run out.
	// Whatever else fails is tried again, whatever its text.
	for _, tt := range []struct {
		err   error
		calls int
		max   int
	}{
		{venti.ErrCorrupt, 1, 10},
		{venti.ServerError("disk full"), 1, 10},
		{errRefused, 3, 2},
		{permanentf("no target %s", "gone"), 1, 10},
		{fmt.Errorf("snap: %w", permanentf("no fossil configured")), 1, 10},
		{&os.PathError{Op: "write", Path: "cursor", Err: syscall.ENOSPC}, 3, 2},
		{errors.New("dial venti tcp!backup!17034: lookup backup: no such host"), 3, 2},
	} {
		t.Run(tt.err.Error(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				calls := 0
				j := testJob()
				err := <-runSchedule(schedule{maxRetries: tt.max, retry: 20 * time.Second}, j,
					func(ctx context.Context, stop <-chan struct{}) error { calls++; return tt.err })
				if calls != tt.calls || !errors.Is(err, tt.err) {
					t.Errorf("%v: %d calls, want %d; %v", tt.err, calls, tt.calls, err)
				}
			})
		})
	}
}

// TestSchedulePacing: secondsbetweenmoves spreads the units; a stop cuts
// the pause short.
func TestSchedulePacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		var at []time.Duration
		j := testJob()
		s := schedule{pause: 60 * time.Second, maxRetries: 10, retry: time.Second}
		err := <-runSchedule(s, j, func(ctx context.Context, stop <-chan struct{}) error {
			for range 5 {
				at = append(at, time.Since(t0))
				s.pace(stop)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, d := range at {
			if d != time.Duration(i)*time.Minute {
				t.Errorf("unit %d at %v", i, d)
			}
		}
		stop := make(chan struct{})
		close(stop)
		start := time.Now()
		s.pace(stop)
		if time.Since(start) != 0 {
			t.Errorf("pace with stop closed took %v", time.Since(start))
		}
	})
}

// TestLimiter: 10 MiB at 1 MiB/s, after a burst of one second's worth,
// takes 9 s; concurrent senders share the rate.
func TestLimiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(1 << 20)
		start := time.Now()
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 40 {
					l.wait(64<<10, nil)
				}
			})
		}
		wg.Wait()
		if d := time.Since(start); d < 9*time.Second-10*time.Millisecond || d > 9*time.Second+10*time.Millisecond {
			t.Errorf("10 MiB at 1 MiB/s took %v", d)
		}
	})
}
