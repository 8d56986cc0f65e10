package bucket

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// ErrConflict is a conditional write refused: another writer changed
// the manifest, or the store cannot make conditional writes at all.
var ErrConflict = errors.New("conflict")

// ErrNotExist is an object that is not there.
var ErrNotExist = errors.New("no such object")

// A Bucket is a prefix of a bucket in an S3 store, opened.
type Bucket struct {
	cfg  Config
	core *minio.Core

	mu     sync.Mutex
	condOK bool // conditional writes seen to work
}

// CredFileName is the credentials file replfs reads from its state
// directory when the environment has none: AWS's format, mode 0600.
const CredFileName = "s3credentials"

// Open returns the Bucket cfg names, with credentials from the
// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN), else from credFile (AWS's ini format, profile
// $AWS_PROFILE or default; ignored if "" or absent). Nothing is sent
// until it is used.
func Open(cfg Config, credFile string) (*Bucket, error) {
	creds, err := loadCredentials(credFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg, err)
	}
	lookup := minio.BucketLookupDNS
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	core, err := minio.NewCore(cfg.Endpoint, &minio.Options{
		Creds:        creds,
		Secure:       !cfg.Insecure,
		Region:       cfg.Region,
		BucketLookup: lookup,
		MaxRetries:   3,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg, err)
	}
	return &Bucket{cfg: cfg, core: core}, nil
}

// Config returns what b was opened with.
func (b *Bucket) Config() Config { return b.cfg }

func (b *Bucket) String() string { return b.cfg.String() }

func loadCredentials(file string) (*credentials.Credentials, error) {
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if id != "" && secret != "" {
		return credentials.NewStaticV4(id, secret, os.Getenv("AWS_SESSION_TOKEN")), nil
	}
	if file == "" {
		return nil, errors.New("no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return nil, fmt.Errorf("no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or write %s", file)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0077 != 0 {
		return nil, fmt.Errorf("%s: mode %#o: readable by others, want 0600", file, st.Mode().Perm())
	}
	profile := os.Getenv("AWS_PROFILE")
	if profile == "" {
		profile = "default"
	}
	var (
		in    bool
		token string
	)
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			in = strings.TrimSpace(strings.Trim(line, "[]")) == profile
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !in || !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "aws_access_key_id":
			id = strings.TrimSpace(v)
		case "aws_secret_access_key":
			secret = strings.TrimSpace(v)
		case "aws_session_token":
			token = strings.TrimSpace(v)
		}
	}
	if id == "" || secret == "" {
		return nil, fmt.Errorf("%s: no aws_access_key_id and aws_secret_access_key for profile %s", file, profile)
	}
	return credentials.NewStaticV4(id, secret, token), nil
}

// key returns the object key of name under the prefix.
func (b *Bucket) key(name string) string {
	if b.cfg.Prefix == "" {
		return name
	}
	return b.cfg.Prefix + "/" + name
}

// wrap makes an S3 error one line naming the operation.
func (b *Bucket) wrap(op, name string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	r := minio.ToErrorResponse(err)
	switch {
	case r.StatusCode == http.StatusPreconditionFailed || r.Code == "PreconditionFailed":
		return fmt.Errorf("%s: %s %s: %w", b.cfg, op, name, ErrConflict)
	case r.Code == "NoSuchKey" || r.StatusCode == http.StatusNotFound && r.Code != "NoSuchBucket" && r.Code != "NoSuchUpload":
		return fmt.Errorf("%s: %s %s: %w", b.cfg, op, name, ErrNotExist)
	case r.Code != "":
		return fmt.Errorf("%s: %s %s: %s", b.cfg, op, name, oneLine(r.Code+": "+r.Message))
	}
	return fmt.Errorf("%s: %s %s: %s", b.cfg, op, name, oneLine(err.Error()))
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// Get returns the object name, at most max bytes, and its ETag.
func (b *Bucket) Get(ctx context.Context, name string, max int64) ([]byte, string, error) {
	rc, info, _, err := b.core.GetObject(ctx, b.cfg.Bucket, b.key(name), minio.GetObjectOptions{})
	if err != nil {
		return nil, "", b.wrap("get", name, err)
	}
	defer rc.Close()
	if info.Size > max {
		return nil, "", fmt.Errorf("%s: get %s: %d bytes, more than %d", b.cfg, name, info.Size, max)
	}
	data, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, "", b.wrap("get", name, err)
	}
	if int64(len(data)) > max {
		return nil, "", fmt.Errorf("%s: get %s: more than %d bytes", b.cfg, name, max)
	}
	return data, strings.Trim(info.ETag, `"`), nil
}

// ReadAt reads len(p) bytes of the object name at off.
func (b *Bucket) ReadAt(ctx context.Context, name string, p []byte, off int64) error {
	if len(p) == 0 {
		return nil
	}
	var opts minio.GetObjectOptions
	if err := opts.SetRange(off, off+int64(len(p))-1); err != nil {
		return err
	}
	rc, _, _, err := b.core.GetObject(ctx, b.cfg.Bucket, b.key(name), opts)
	if err != nil {
		return b.wrap("get", name, err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, p); err != nil {
		return b.wrap("get", name, fmt.Errorf("range %d+%d: %w", off, len(p), err))
	}
	return nil
}

// A Cond is the condition of a write: none, that the object is absent
// (IfNoneMatch), or that its ETag is IfMatch.
type Cond struct {
	IfNoneMatch bool
	IfMatch     string
}

// Put stores data as the object name if cond holds, and returns its
// ETag; ErrConflict if cond does not hold.
func (b *Bucket) Put(ctx context.Context, name string, data []byte, cond Cond) (string, error) {
	sum := md5.Sum(data)
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream"}
	if cond.IfNoneMatch {
		opts.SetMatchETagExcept("*")
	}
	if cond.IfMatch != "" {
		opts.SetMatchETag(cond.IfMatch)
	}
	info, err := b.core.PutObject(ctx, b.cfg.Bucket, b.key(name), bytes.NewReader(data), int64(len(data)),
		base64.StdEncoding.EncodeToString(sum[:]), "", opts)
	if err != nil {
		return "", b.wrap("put", name, err)
	}
	return strings.Trim(info.ETag, `"`), nil
}

// Delete removes the object name; one already gone is no error.
func (b *Bucket) Delete(ctx context.Context, name string) error {
	err := b.core.RemoveObject(ctx, b.cfg.Bucket, b.key(name), minio.RemoveObjectOptions{})
	if err != nil && !errors.Is(b.wrap("", "", err), ErrNotExist) {
		return b.wrap("delete", name, err)
	}
	return nil
}

// Exists reports whether the bucket is there.
func (b *Bucket) Exists(ctx context.Context) error {
	ok, err := b.core.BucketExists(ctx, b.cfg.Bucket)
	if err != nil {
		return b.wrap("stat", "bucket", err)
	}
	if !ok {
		return fmt.Errorf("%s: no bucket %s", b.cfg, b.cfg.Bucket)
	}
	return nil
}

// CheckConditional makes sure the store honours If-None-Match and
// If-Match on PUT, which the manifest relies on: on a store that
// ignores them, two writers could both advance it. It writes and
// removes a probe object of its own.
func (b *Bucket) CheckConditional(ctx context.Context) error {
	b.mu.Lock()
	ok := b.condOK
	b.mu.Unlock()
	if ok {
		return nil
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	name := "probe." + hex.EncodeToString(rnd[:])
	defer b.Delete(context.WithoutCancel(ctx), name)
	etag, err := b.Put(ctx, name, []byte("probe 1\n"), Cond{IfNoneMatch: true})
	if err != nil {
		return err
	}
	refused := func(what string, err error) error {
		if err == nil {
			return fmt.Errorf("%s: the store ignores %s on PUT: refusing to keep a copy where two writers could collide: %w", b.cfg, what, ErrConflict)
		}
		if !errors.Is(err, ErrConflict) {
			return err
		}
		return nil
	}
	_, err = b.Put(ctx, name, []byte("probe 2\n"), Cond{IfNoneMatch: true})
	if err := refused("If-None-Match", err); err != nil {
		return err
	}
	_, err = b.Put(ctx, name, []byte("probe 3\n"), Cond{IfMatch: "0123456789abcdef0123456789abcdef"})
	if err := refused("If-Match", err); err != nil {
		return err
	}
	if _, err := b.Put(ctx, name, []byte("probe 4\n"), Cond{IfMatch: etag}); err != nil {
		return fmt.Errorf("%s: the store refuses If-Match with the object's own ETag: %w", b.cfg, err)
	}
	b.mu.Lock()
	b.condOK = true
	b.mu.Unlock()
	return nil
}

func minioListOpts(prefix string) minio.ListObjectsOptions {
	return minio.ListObjectsOptions{Prefix: prefix, Recursive: true}
}
