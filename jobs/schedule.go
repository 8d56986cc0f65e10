package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"replfs/ctl"
	"replfs/venti"
	"replfs/venti/arena"
)

// A schedule says when a trickle job runs its transfer: only while its
// window is open, again every repeat while repeating, again after a
// refused or dropped connection, with a pause after each unit moved.
type schedule struct {
	window     *ctl.Window // nil: always
	repeat     bool
	every      time.Duration // between the starts of repeats
	maxRetries int
	retry      time.Duration // the first retry's wait; doubled each time
	pause      time.Duration // after each unit moved
	retried    func()        // told of each retry; nil: nobody
}

// maxBackoff caps the wait between retries.
const maxBackoff = 30 * time.Minute

// errWindowClosed is what a transfer stopped by its window returns.
var errWindowClosed = errors.New("window closed")

// A transfer moves what one run moves. When stop closes (the window
// shuts, or the job is asked to stop) it ends at a committed point and
// returns; what it returns then does not matter.
type transfer func(ctx context.Context, stop <-chan struct{}) error

// run runs t as the schedule says, showing where it is in j's status.
func (s schedule) run(ctx context.Context, j *job, t transfer) error {
	if s.window != nil {
		j.setWindow(s.window.String())
	}
	attempt := 0
	for {
		if s.window != nil && !s.window.Always() {
			now := time.Now()
			if !s.window.Open(now) {
				next := s.window.Next(now)
				j.setWaiting(Waiting, "for window until "+stamp(next), next)
				if !sleepUntil(ctx, j.stop, next) {
					return j.stopped(ctx)
				}
			}
		}
		j.setWaiting(Running, "", time.Time{})
		if attempt == 0 { // a retry goes on with its run
			j.newRun(time.Now())
		}
		err, closed := s.once(ctx, j, t)
		switch {
		case j.stopCause() != nil || ctx.Err() != nil:
			return j.stopped(ctx)
		case closed && err != nil:
			j.addInfo("note window closed at " + stamp(time.Now()) + "; stopped at a committed point")
			continue // waits for the next opening
		case err != nil && retriable(err) && attempt < s.maxRetries:
			attempt++
			if s.retried != nil {
				s.retried()
			}
			d := min(s.retry<<(attempt-1), maxBackoff)
			next := time.Now().Add(d)
			j.setWaiting(Retrying, fmt.Sprintf("in %v, attempt %d/%d", d, attempt, s.maxRetries), next)
			j.setLastError(err)
			if !sleepUntil(ctx, j.stop, next) {
				return j.stopped(ctx)
			}
			continue
		case err != nil:
			if attempt > 0 {
				return fmt.Errorf("%w (after %d retries)", err, attempt)
			}
			return err
		}
		attempt = 0
		j.setLastError(nil)
		if !s.repeat {
			return nil
		}
		next := j.runStart().Add(s.every)
		j.setWaiting(Sleeping, "until next repeat "+stamp(next), next)
		if !sleepUntil(ctx, j.stop, next) {
			return j.stopped(ctx)
		}
	}
}

// once runs t with a stop channel that closes when the window shuts
// or the job is asked to stop; closed says whether the window did it.
func (s schedule) once(ctx context.Context, j *job, t transfer) (err error, closed bool) {
	stop := make(chan struct{})
	var once sync.Once
	var shut bool
	end := func(byWindow bool) {
		once.Do(func() {
			shut = byWindow
			close(stop)
		})
	}
	if s.window != nil && !s.window.Always() {
		tm := time.AfterFunc(time.Until(s.window.Close(time.Now())), func() { end(true) })
		defer tm.Stop()
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-j.stop:
			end(false)
		case <-done:
		}
	}()
	err = t(ctx, stop)
	once.Do(func() {}) // no closing after this point
	return err, shut
}

// pace waits secondsbetweenmoves after a unit moved, unless stop closes.
func (s schedule) pace(stop <-chan struct{}) {
	if s.pause <= 0 {
		return
	}
	t := time.NewTimer(s.pause)
	defer t.Stop()
	select {
	case <-t.C:
	case <-stop:
	}
}

// sleepUntil waits until t; false if the job was asked to stop first.
func sleepUntil(ctx context.Context, stop <-chan struct{}, t time.Time) bool {
	tm := time.NewTimer(time.Until(t))
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-stop:
		return false
	case <-ctx.Done():
		return false
	}
}

// ErrPermanent marks an error that trying again cannot mend: a command
// the configuration cannot carry out, a finding (a tree incomplete on
// a target). Corrupt data (venti.ErrCorrupt) and a refusal by a venti
// (venti.ServerError) are permanent too. Everything else is retried.
var ErrPermanent = errors.New("permanent error")

// permanentError marks err permanent, keeping its text.
type permanentError struct{ err error }

func (p permanentError) Error() string   { return p.err.Error() }
func (p permanentError) Unwrap() []error { return []error{p.err, ErrPermanent} }

// permanentf is fmt.Errorf for an error marked permanent.
func permanentf(format string, args ...any) error {
	return permanentError{fmt.Errorf(format, args...)}
}

// retriable reports whether a run that failed with err is worth trying
// again: unless the error is permanent, it is. A transfer stopped at a
// committed point is not a failure to retry.
func retriable(err error) bool {
	if err == nil || errors.Is(err, ErrPermanent) || venti.IsCorrupt(err) || errors.Is(err, arena.ErrStopped) {
		return false
	}
	var se venti.ServerError
	return !errors.As(err, &se)
}

// A limiter keeps a byte rate: a token bucket holding a second's worth
// (and at least one largest block).
type limiter struct {
	mu     sync.Mutex
	rate   float64 // bytes a second; 0: none
	tokens float64
	last   time.Time
}

func newLimiter(rate int64) *limiter {
	return &limiter{rate: float64(rate), tokens: float64(rate), last: time.Now()}
}

// setRate changes the rate; 0 removes the limit.
func (l *limiter) setRate(rate int64) {
	l.mu.Lock()
	l.rate = float64(rate)
	l.tokens = min(l.tokens, l.burst())
	l.mu.Unlock()
}

func (l *limiter) getRate() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int64(l.rate)
}

func (l *limiter) burst() float64 { return max(l.rate, float64(venti.MaxLumpSize)) }

// wait takes n bytes, waiting until the rate allows them or stop
// closes.
func (l *limiter) wait(n int, stop <-chan struct{}) {
	if l == nil {
		return
	}
	l.mu.Lock()
	if l.rate <= 0 {
		l.mu.Unlock()
		return
	}
	now := time.Now()
	l.tokens = min(l.burst(), l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	l.tokens -= float64(n)
	var d time.Duration
	if l.tokens < 0 {
		d = time.Duration(-l.tokens / l.rate * float64(time.Second))
	}
	l.mu.Unlock()
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-stop:
	}
}
