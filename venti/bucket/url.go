// Package bucket keeps copies of venti arenas in an S3 object store
// (AWS S3, Backblaze B2, Ceph RGW, SeaweedFS, MinIO, Garage): it
// uploads an arena partition's arenas as objects (Upload), serves them
// back as a read-only venti (OpenStore), and writes them back into an
// arena partition plan9port's venti opens (Restore).
//
// Under a prefix of a bucket it keeps:
//
//	manifest                      what is there: the cursor
//	arenas/NAME.MAGIC.CTIME/log.LO-HI   bytes [LO,HI) of an unsealed arena
//	arenas/NAME.MAGIC.CTIME/dir.LO-HI   the directory entries of those clumps
//	arenas/NAME.MAGIC.CTIME/arena       a sealed arena, exactly its bytes
//	rootscor/SHA1                 a root score log
//
// LO and HI are offsets in the arena (0 is its head block), 16 hex
// digits. The first log object starts at 0, each next one where the
// last ended, each at a clump boundary. The manifest is written last,
// with a conditional PUT, so it never names an object not yet stored
// and two writers cannot both advance it.
package bucket

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
)

// A Config says where a copy is kept and how to reach it.
type Config struct {
	Bucket    string
	Prefix    string // no leading or trailing slash; may be ""
	Endpoint  string // host:port of the S3 API
	Region    string
	PathStyle bool // bucket in the path, not the host name
	Insecure  bool // plain http
}

// IsURL reports whether s names a bucket (s3://...).
func IsURL(s string) bool { return strings.HasPrefix(s, "s3://") }

// ParseURL parses s3://bucket/prefix?endpoint=host:port&region=r&style=path&tls=0.
// Without endpoint, $AWS_ENDPOINT_URL is used, else AWS's own; region
// defaults to $AWS_REGION, else us-east-1; style to path for a given
// endpoint and virtual-host for AWS's; tls to 1. Credentials never go
// in the URL.
func ParseURL(s string) (Config, error) {
	var c Config
	bad := func(why string) (Config, error) {
		return Config{}, fmt.Errorf("bad bucket url %s: %s", clip(s), why)
	}
	if len(s) > 1024 {
		return bad("too long")
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "s3" || u.Opaque != "" {
		return bad("want s3://bucket/prefix")
	}
	if u.User != nil {
		return bad("credentials do not belong in the url")
	}
	if u.Fragment != "" || u.RawFragment != "" {
		return bad("fragment")
	}
	c.Bucket = u.Host
	if err := checkBucket(c.Bucket); err != nil {
		return bad(err.Error())
	}
	c.Prefix = strings.Trim(u.Path, "/")
	if err := checkPrefix(c.Prefix); err != nil {
		return bad(err.Error())
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("query")
	}
	for k, v := range q {
		if len(v) != 1 {
			return bad("repeated " + k)
		}
		switch k {
		case "endpoint", "region", "style", "tls":
		default:
			return bad("unknown parameter " + clip(k))
		}
	}
	c.Endpoint = q.Get("endpoint")
	c.PathStyle = c.Endpoint != ""
	if c.Endpoint == "" {
		if e := os.Getenv("AWS_ENDPOINT_URL"); e != "" {
			eu, err := url.Parse(e)
			if err != nil || (eu.Scheme != "http" && eu.Scheme != "https") || eu.Host == "" {
				return bad("bad $AWS_ENDPOINT_URL")
			}
			c.Endpoint, c.Insecure, c.PathStyle = eu.Host, eu.Scheme == "http", true
		} else {
			c.Endpoint = "s3.amazonaws.com"
		}
	}
	if err := checkEndpoint(c.Endpoint); err != nil {
		return bad(err.Error())
	}
	switch q.Get("style") {
	case "":
	case "path":
		c.PathStyle = true
	case "virtual":
		c.PathStyle = false
	default:
		return bad("style is path or virtual")
	}
	switch q.Get("tls") {
	case "":
	case "0":
		c.Insecure = true
	case "1":
		c.Insecure = false
	default:
		return bad("tls is 0 or 1")
	}
	c.Region = q.Get("region")
	if c.Region == "" {
		c.Region = os.Getenv("AWS_REGION")
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	for _, r := range c.Region {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') || len(c.Region) > 64 {
			return bad("bad region")
		}
	}
	return c, nil
}

// String returns the URL naming the copy: s3://bucket/prefix.
func (c Config) String() string {
	if c.Prefix == "" {
		return "s3://" + c.Bucket
	}
	return "s3://" + c.Bucket + "/" + c.Prefix
}

// checkBucket applies S3's rules for bucket names.
func checkBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return errors.New("bucket name of 3 to 63 characters")
	}
	for i, r := range b {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || (r == '-' || r == '.') && i > 0 && i < len(b)-1
		if !ok {
			return errors.New("bucket name of lower case letters, digits, - and .")
		}
	}
	if strings.Contains(b, "..") {
		return errors.New("bucket name with ..")
	}
	return nil
}

// checkPrefix keeps prefixes to printable ASCII path elements.
func checkPrefix(p string) error {
	if len(p) > 512 {
		return errors.New("prefix too long")
	}
	if p == "" {
		return nil
	}
	for _, el := range strings.Split(p, "/") {
		if el == "" || el == "." || el == ".." {
			return errors.New("bad prefix element")
		}
		for _, r := range el {
			if r <= ' ' || r >= 0x7f || strings.ContainsRune(`\"?#%*<>|{}^`+"`", r) {
				return errors.New("prefix of printable ascii")
			}
		}
	}
	return nil
}

func checkEndpoint(e string) error {
	host, port, err := net.SplitHostPort(e)
	if err != nil {
		host, port = e, ""
	}
	if host == "" || len(e) > 255 {
		return errors.New("bad endpoint")
	}
	for _, r := range host {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == ':') {
			return errors.New("bad endpoint host")
		}
	}
	for _, r := range port {
		if r < '0' || r > '9' {
			return errors.New("bad endpoint port")
		}
	}
	return nil
}

// clip shortens hostile text for an error message.
func clip(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return fmt.Sprintf("%q", s)
}
