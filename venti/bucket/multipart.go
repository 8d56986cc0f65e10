package bucket

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/minio/minio-go/v7"
)

// LargeOptions control PutLarge.
type LargeOptions struct {
	PartSize int64 // default 16 MiB; S3 wants at least 5 MiB
	Parallel int   // parts in flight; default 4
	// Throttle, if set, is called before each chunk of bytes is sent
	// and may block to keep a rate.
	Throttle func(n int)
	// Sent, if set, is told of the bytes of each part once stored.
	Sent func(n int64)
	// Resume is the upload ID of an unfinished multipart upload of the
	// same object to continue, from Uploads; "" starts afresh.
	Resume string
}

const defaultPartSize = 16 << 20

// Uploads returns the unfinished multipart uploads under the prefix:
// object name (relative to the prefix) to upload ID, the newest when
// there are several (the others are aborted). A store listing more than
// maxUploads is not believed.
func (b *Bucket) Uploads(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	prefix := b.key("")
	keyMarker, idMarker := "", ""
	for range maxUploads / 1000 {
		res, err := b.core.ListMultipartUploads(ctx, b.cfg.Bucket, prefix, keyMarker, idMarker, "", 1000)
		if err != nil {
			return nil, b.wrap("list", "uploads", err)
		}
		for _, u := range res.Uploads {
			name, ok := strings.CutPrefix(u.Key, prefix)
			if !ok {
				continue
			}
			if old, ok := out[name]; ok {
				b.core.AbortMultipartUpload(ctx, b.cfg.Bucket, u.Key, old)
			}
			out[name] = u.UploadID
		}
		if !res.IsTruncated || res.NextKeyMarker == "" && res.NextUploadIDMarker == "" {
			return out, nil
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
	return nil, fmt.Errorf("%s: more than %d unfinished uploads", b.cfg, maxUploads)
}

// maxUploads bounds the unfinished uploads Uploads lists: a run leaves
// at most a few.
const maxUploads = 10000

// Abort abandons an unfinished multipart upload.
func (b *Bucket) Abort(ctx context.Context, name, id string) error {
	return b.wrap("abort", name, b.core.AbortMultipartUpload(ctx, b.cfg.Bucket, b.key(name), id))
}

// PutLarge stores the size bytes of r as the object name. An object of
// at most one part is one PUT; a larger one a multipart upload, parts
// sent o.Parallel at a time. With o.Resume it continues that upload:
// parts already stored whose size and MD5 match are kept.
func (b *Bucket) PutLarge(ctx context.Context, name string, r io.ReaderAt, size int64, o LargeOptions) error {
	if o.PartSize <= 0 {
		o.PartSize = defaultPartSize
	}
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	if size <= o.PartSize {
		if o.Resume != "" {
			b.Abort(ctx, name, o.Resume)
		}
		buf := make([]byte, size)
		if _, err := r.ReadAt(buf, 0); err != nil && !(errors.Is(err, io.EOF) && len(buf) == 0) {
			return err
		}
		throttle(o.Throttle, len(buf))
		if _, err := b.Put(ctx, name, buf, Cond{}); err != nil {
			return err
		}
		if o.Sent != nil {
			o.Sent(size)
		}
		return nil
	}
	id := o.Resume
	have := map[int]minio.ObjectPart{}
	if id != "" {
		parts, err := b.parts(ctx, name, id)
		if err != nil {
			id = "" // gone or unreadable: start afresh
		} else {
			have = parts
		}
	}
	if id == "" {
		var err error
		id, err = b.core.NewMultipartUpload(ctx, b.cfg.Bucket, b.key(name), minio.PutObjectOptions{ContentType: "application/octet-stream"})
		if err != nil {
			return b.wrap("put", name, err)
		}
	}
	n := int((size + o.PartSize - 1) / o.PartSize)
	etags := make([]string, n)
	var (
		wg    sync.WaitGroup
		sem   = make(chan struct{}, o.Parallel)
		emu   sync.Mutex
		first error
	)
	fail := func(err error) {
		emu.Lock()
		if first == nil {
			first = err
		}
		emu.Unlock()
	}
	failed := func() bool {
		emu.Lock()
		defer emu.Unlock()
		return first != nil
	}
	for i := range n {
		if failed() || ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			off := int64(i) * o.PartSize
			buf := make([]byte, min(o.PartSize, size-off))
			if _, err := r.ReadAt(buf, off); err != nil {
				fail(err)
				return
			}
			sum := md5.Sum(buf)
			sumHex := hex.EncodeToString(sum[:])
			if p, ok := have[i+1]; ok && p.Size == int64(len(buf)) && strings.Trim(p.ETag, `"`) == sumHex {
				etags[i] = sumHex
				if o.Sent != nil {
					o.Sent(int64(len(buf)))
				}
				return
			}
			throttle(o.Throttle, len(buf))
			p, err := b.core.PutObjectPart(ctx, b.cfg.Bucket, b.key(name), id, i+1, bytes.NewReader(buf), int64(len(buf)),
				minio.PutObjectPartOptions{Md5Base64: base64.StdEncoding.EncodeToString(sum[:])})
			if err != nil {
				fail(b.wrap("put", fmt.Sprintf("%s part %d", name, i+1), err))
				return
			}
			etags[i] = strings.Trim(p.ETag, `"`)
			if o.Sent != nil {
				o.Sent(int64(len(buf)))
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	if first != nil {
		// Left for a later run to resume.
		return first
	}
	cp := make([]minio.CompletePart, n)
	for i := range n {
		cp[i] = minio.CompletePart{PartNumber: i + 1, ETag: etags[i]}
	}
	if _, err := b.core.CompleteMultipartUpload(ctx, b.cfg.Bucket, b.key(name), id, cp, minio.PutObjectOptions{}); err != nil {
		return b.wrap("complete", name, err)
	}
	return nil
}

// parts lists the parts stored of an unfinished upload.
func (b *Bucket) parts(ctx context.Context, name, id string) (map[int]minio.ObjectPart, error) {
	out := map[int]minio.ObjectPart{}
	marker := 0
	for range 100 {
		res, err := b.core.ListObjectParts(ctx, b.cfg.Bucket, b.key(name), id, marker, 1000)
		if err != nil {
			return nil, b.wrap("list parts", name, err)
		}
		for _, p := range res.ObjectParts {
			out[p.PartNumber] = p
		}
		if !res.IsTruncated {
			break
		}
		marker = res.NextPartNumberMarker
	}
	return out, nil
}

// throttle calls t for n bytes in chunks, so a rate limiter whose burst
// is smaller than a part still paces it.
func throttle(t func(int), n int) {
	if t == nil {
		return
	}
	const chunk = 256 << 10
	for n > 0 {
		k := min(n, chunk)
		t(k)
		n -= k
	}
}

// sortedNames returns m's keys sorted.
func sortedNames(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
