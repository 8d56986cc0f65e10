//go:build unix

// Package buckettest runs a real object store for tests: SeaweedFS's
// weed mini, an S3 server on loopback in a fresh directory.
package buckettest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Credentials the servers started here accept.
const (
	AccessKey = "replfstest"
	SecretKey = "replfstest-secret-key"
)

// A Weed is a running weed mini.
type Weed struct {
	Endpoint string // host:port of its S3 API
	Dir      string // its data directory
	cmd      *exec.Cmd
	args     []string
	bin      string
	done     chan struct{}
}

// Binary returns the weed program: $WEED, else weed on $PATH, else the
// one .ci/weed builds into the cache; "" if none.
func Binary() string {
	if w := os.Getenv("WEED"); w != "" {
		return w
	}
	if p, err := exec.LookPath("weed"); err == nil {
		return p
	}
	return ""
}

// Need returns the weed program, skipping the test, saying why, when
// there is none.
func Need(t testing.TB) string {
	t.Helper()
	w := Binary()
	if w == "" {
		t.Skip("no SeaweedFS weed server: set WEED to one (.ci/weed builds it)")
	}
	if _, err := os.Stat(w); err != nil {
		t.Skipf("no SeaweedFS weed server: WEED=%s: %v", w, err)
	}
	return w
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	var ports []int
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		p := l.Addr().(*net.TCPAddr).Port
		// weed derives nothing from these, but keep grpc ports apart.
		if p < 60000 {
			ports = append(ports, p)
		}
	}
	return ports, nil
}

// Start starts weed mini in a directory of the test's and waits until
// its S3 API answers; it is stopped when the test ends. The
// environment of the test process is not changed: give clients
// AccessKey and SecretKey.
func Start(t testing.TB) *Weed {
	t.Helper()
	bin := Need(t)
	w, err := Launch(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return w
}

// Launch is Start for programs other than tests: weed mini from bin,
// its data in dir/weed and its log in dir/weed.log. Stop it when done.
func Launch(bin, dir string) (*Weed, error) {
	dir = filepath.Join(dir, "weed")
	if err := os.MkdirAll(dir, 0700); err != nil {
		return nil, err
	}
	p, err := freePorts(10)
	if err != nil {
		return nil, err
	}
	s := func(i int) string { return strconv.Itoa(p[i]) }
	w := &Weed{Endpoint: "127.0.0.1:" + s(0), Dir: dir, bin: bin}
	w.args = []string{"mini", "-dir=" + dir, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-s3.port=" + s(0), "-s3.port.grpc=" + s(1),
		"-master.port=" + s(2), "-master.port.grpc=" + s(3),
		"-volume.port=" + s(4), "-volume.port.grpc=" + s(5),
		"-filer.port=" + s(6), "-filer.port.grpc=" + s(7),
		"-admin.port=" + s(8), "-admin.port.grpc=" + s(9),
		"-admin.port.legacy=0", "-webdav=false", "-admin.ui=false",
		"-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false"}
	if err := w.start(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Weed) logName() string { return filepath.Join(filepath.Dir(w.Dir), "weed.log") }

func (w *Weed) start() error {
	cmd := exec.Command(w.bin, w.args...)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+AccessKey, "AWS_SECRET_ACCESS_KEY="+SecretKey)
	log, err := os.OpenFile(w.logName(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0600)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	log.Close()
	if err != nil {
		return fmt.Errorf("start weed: %v", err)
	}
	w.cmd = cmd
	w.done = make(chan struct{})
	go func() { cmd.Wait(); close(w.done) }()
	if err := w.waitReady(60 * time.Second); err != nil {
		w.Stop()
		b, _ := os.ReadFile(w.logName())
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		return fmt.Errorf("weed mini: %v\n%s", err, b)
	}
	return nil
}

func (w *Weed) waitReady(d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+w.Endpoint+"/healthz", nil)
		r, err := http.DefaultClient.Do(req)
		if err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-w.done:
			return fmt.Errorf("exited before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("not ready after %v", d)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop stops the server (SIGTERM, then SIGKILL after 10 s).
func (w *Weed) Stop() {
	if w.cmd == nil {
		return
	}
	syscall.Kill(-w.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
		<-w.done
	}
	w.cmd = nil
}

// Restart starts the server again on the same directory and ports.
func (w *Weed) Restart(t testing.TB) {
	t.Helper()
	if err := w.start(); err != nil {
		t.Fatal(err)
	}
}

// URL returns the s3:// URL of prefix in bucket on this server.
func (w *Weed) URL(bucket, prefix string) string {
	return "s3://" + bucket + "/" + prefix + "?endpoint=" + w.Endpoint + "&tls=0"
}

// MakeBucket creates a bucket on the server.
func (w *Weed) MakeBucket(t testing.TB, name string) {
	t.Helper()
	if err := w.CreateBucket(name); err != nil {
		t.Fatal(err)
	}
}

// CreateBucket is MakeBucket for programs other than tests.
func (w *Weed) CreateBucket(name string) error {
	c, err := minio.New(w.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(AccessKey, SecretKey, ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.MakeBucket(ctx, name, minio.MakeBucketOptions{}); err != nil {
		return fmt.Errorf("make bucket %s: %v", name, err)
	}
	return nil
}

// Env sets the credentials the server accepts in the test's
// environment, as the standard AWS variables.
func Env(t testing.TB) {
	t.Setenv("AWS_ACCESS_KEY_ID", AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", SecretKey)
}
