package bucket

import (
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_REGION", "")
	good := []struct {
		in   string
		want Config
	}{
		{"s3://backup/site/venti", Config{Bucket: "backup", Prefix: "site/venti", Endpoint: "s3.amazonaws.com", Region: "us-east-1"}},
		{"s3://backup", Config{Bucket: "backup", Endpoint: "s3.amazonaws.com", Region: "us-east-1"}},
		{"s3://backup/x/?endpoint=127.0.0.1:8333&tls=0", Config{Bucket: "backup", Prefix: "x", Endpoint: "127.0.0.1:8333", Region: "us-east-1", PathStyle: true, Insecure: true}},
		{"s3://b.c-d/x?endpoint=minio.example.com&region=eu-west-2&style=virtual", Config{Bucket: "b.c-d", Prefix: "x", Endpoint: "minio.example.com", Region: "eu-west-2"}},
	}
	for _, g := range good {
		c, err := ParseURL(g.in)
		if err != nil || c != g.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", g.in, c, err, g.want)
		}
	}
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
	if c, err := ParseURL("s3://backup/p"); err != nil || c.Endpoint != "127.0.0.1:9000" || !c.Insecure || !c.PathStyle {
		t.Errorf("with $AWS_ENDPOINT_URL: %+v %v", c, err)
	}
	bad := []string{
		"s3://key:secret@backup/p", "s3://Backup/p", "s3://ba/p", "s3://-bad/p", "s3://a..b/p",
		"s3://backup/../etc", "s3://backup/a//b", "s3://backup/a b", "s3://backup/p?endpoint=a/b",
		"s3://backup/p?frob=1", "s3://backup/p?tls=2", "s3://backup/p?style=x", "s3://backup/p?region=A%20B",
		"s3://backup/p#frag", "http://backup/p", "s3:backup", "s3://backup/p?tls=0&tls=1",
		"s3://backup/" + strings.Repeat("x", 600), "s3://backup/p%00q",
	}
	for _, b := range bad {
		if c, err := ParseURL(b); err == nil {
			t.Errorf("ParseURL(%q) = %+v, want an error", b, c)
		} else if strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "bad bucket url") {
			t.Errorf("ParseURL(%q): %q", b, err)
		}
	}
}
