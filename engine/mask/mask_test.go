package mask

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/steps/transport"
)

func TestMaskEveryForm(t *testing.T) {
	secret := `S3cr3t/to+ken &"x'<y>`
	m := New([]string{secret})
	js, _ := json.Marshal(secret)
	forms := map[string]string{
		"raw":        secret,
		"shell":      transport.Quote(secret),
		"go %q":      fmt.Sprintf("%q", secret),
		"json":       string(js),
		"query":      url.QueryEscape(secret),
		"path":       url.PathEscape(secret),
		"base64":     base64.StdEncoding.EncodeToString([]byte(secret)),
		"base64url":  base64.URLEncoding.EncodeToString([]byte(secret)),
		"base64 raw": base64.RawStdEncoding.EncodeToString([]byte(secret)),
	}
	for name, f := range forms {
		got := m.Mask("before " + f + " after")
		if strings.Contains(got, secret) || strings.Contains(got, f) {
			t.Errorf("%s form %q not masked: %q", name, f, got)
		}
		if !strings.Contains(got, Hidden) || !strings.HasPrefix(got, "before ") || !strings.HasSuffix(got, " after") {
			t.Errorf("%s form: the text around the secret changed: %q", name, got)
		}
	}
	// A Go error quoting a URL that carries the secret.
	err := fmt.Errorf("Get %q: dial tcp: refused", "http://h/?token="+url.QueryEscape(secret))
	if got := m.Error(err).Error(); strings.Contains(got, url.QueryEscape(secret)) {
		t.Errorf("error not masked: %s", got)
	}
}

func TestMaskMultiLineAndLater(t *testing.T) {
	key := "-----BEGIN KEY-----\nQUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\nMTIzNDU2Nzg5MA==\n-----END KEY-----\n"
	m := New(nil)
	if m.Secrets() {
		t.Fatal("Secrets() with none")
	}
	if got := m.Mask("x"); got != "x" {
		t.Fatal(got)
	}
	m.Add(key, "")
	if !m.Secrets() {
		t.Fatal("Secrets() after Add")
	}
	// A log written a line at a time shows one line of the key per write.
	for _, line := range strings.Split(strings.TrimSpace(key), "\n") {
		if got := m.Mask("log: " + line); strings.Contains(got, line) {
			t.Errorf("line %q not masked: %q", line, got)
		}
	}
	// Short lines of a secret are not masked on their own.
	m.Add("ab\n}\nlonger-line")
	if got := m.Mask("} end"); got != "} end" {
		t.Errorf("a short line was masked: %q", got)
	}
}

func TestWriter(t *testing.T) {
	var out bytes.Buffer
	m := New([]string{"hunter2-secret"})
	w := m.Writer(&out)
	// The secret is split across writes: masked once its line is whole.
	for _, p := range []string{"pass=hunt", "er2-sec", "ret\nnext ", "line"} {
		if _, err := w.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if got := out.String(); got != "pass=****\n" {
		t.Fatalf("before Flush: %q", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "pass=****\nnext line" {
		t.Fatalf("after Close: %q", got)
	}
	// A line that never ends is written once it passes the cap.
	out.Reset()
	w = m.Writer(&out)
	long := strings.Repeat("x", maxLine+10)
	if _, err := w.Write([]byte(long)); err != nil {
		t.Fatal(err)
	}
	if out.Len() != len(long) {
		t.Fatalf("an unended line over the cap was held back: %d of %d bytes", out.Len(), len(long))
	}
}
