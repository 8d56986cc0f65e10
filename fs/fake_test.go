package fs

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// fakeEngine is an in-memory Engine: ctl lines "target NAME" make
// targets, "frob" fails, and the log is a string that grows.
type fakeEngine struct {
	mu      sync.Mutex
	targets []string
	ctl     []string
	log     string
	wake    chan struct{}
	renders map[string]int // status files rendered, by name
	ended   chan struct{}  // closed when job 1 ends
}

func newFake() *fakeEngine {
	return &fakeEngine{wake: make(chan struct{}), renders: map[string]int{}, ended: make(chan struct{})}
}

// WaitJob waits for endJob.
func (f *fakeEngine) WaitJob(ctx context.Context, id int) (string, error) {
	select {
	case <-f.ended:
		return "done", nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (f *fakeEngine) endJob() { close(f.ended) }

// ExecJobs takes "target NAME" (configuration) and "job" (which starts
// job 7).
func (f *fakeEngine) ExecJobs(ctx context.Context, text string) ([]int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		w := strings.Fields(l)
		if (len(w) == 2 && w[0] == "target") || (len(w) == 1 && w[0] == "job") {
			continue
		}
		if len(w) > 0 {
			return nil, fmt.Errorf("unknown control message %q", w[0])
		}
	}
	var ids []int
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		if l == "job" {
			ids = append(ids, 7)
			continue
		}
		f.targets = append(f.targets, strings.Fields(l)[1])
		f.ctl = append(f.ctl, l)
	}
	return ids, nil
}

func (f *fakeEngine) CtlText() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.ctl) == 0 {
		return ""
	}
	return strings.Join(f.ctl, "\n") + "\n"
}
func (f *fakeEngine) Status() string   { return "status line\n" }
func (f *fakeEngine) RootScor() []byte { return []byte("vac:x\n") }
func (f *fakeEngine) WrCmd() string    { return "wrarena -h tcp!b!1 -o 1 p 0x0\n" }
func (f *fakeEngine) ImportWrCmd(ctx context.Context, text string) error {
	return fmt.Errorf("wrcmd: not a wrarena command")
}
func (f *fakeEngine) Targets() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.targets...)
}
func (f *fakeEngine) TargetStatus(name string) (string, bool) {
	f.mu.Lock()
	f.renders["/targets/"+name+"/status"]++
	f.mu.Unlock()
	for _, t := range f.Targets() {
		if t == name {
			return "name " + name + "\n", true
		}
	}
	return "", false
}
func (f *fakeEngine) Jobs() []int { return []int{1} }
func (f *fakeEngine) JobStatus(id int) (string, bool) {
	f.mu.Lock()
	f.renders[fmt.Sprintf("/jobs/%d/status", id)]++
	f.mu.Unlock()
	return "state done\n", id == 1
}

func (f *fakeEngine) rendered(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.renders[name]
}
func (f *fakeEngine) JobReport(id int) (string, bool) { return "", id == 1 }
func (f *fakeEngine) JobCtl(id int, text string) error {
	if strings.TrimSpace(text) == "cancel" {
		return nil
	}
	return fmt.Errorf("unknown control message %q", strings.TrimSpace(text))
}

func (f *fakeEngine) addLog(s string) {
	f.mu.Lock()
	f.log += s
	close(f.wake)
	f.wake = make(chan struct{})
	f.mu.Unlock()
}

func (f *fakeEngine) LogRead(ctx context.Context, pos int64, max int) ([]byte, int64, error) {
	for {
		f.mu.Lock()
		if pos < int64(len(f.log)) {
			b := f.log[pos:]
			if len(b) > max {
				b = b[:max]
			}
			f.mu.Unlock()
			return []byte(b), pos + int64(len(b)), nil
		}
		w := f.wake
		f.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return nil, pos, ctx.Err()
		}
	}
}
