package probe

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const secret = "s3cret"

func TestRedact(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"http://127.0.0.1/health", "http://127.0.0.1/health"},
		{"http://user:s3cret@127.0.0.1:8080/health?x=1", "http://user:xxxxx@127.0.0.1:8080/health?x=1"},
		{"https://user@127.0.0.1/", "https://user@127.0.0.1/"},
		{"ftp://user:s3cret@127.0.0.1/", "ftp://user:xxxxx@127.0.0.1/"},
		// Not URLs with a host: everything up to the last "@" may be secret.
		{"http://user:s3cret@127.0.0.1/%zz", "http://xxxxx@127.0.0.1/%zz"},
		{"http://user:s3cret@/", "http://xxxxx@/"},
		{"user:s3cret@127.0.0.1", "xxxxx@127.0.0.1"},
		{"127.0.0.1:8080", "127.0.0.1:8080"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := redact(tc.raw); got != tc.want {
			t.Errorf("redact(%q) = %q, want %q", tc.raw, got, tc.want)
		}
	}
}

// wantNoSecret fails the test when what shows the password.
func wantNoSecret(t *testing.T, what, s string) {
	t.Helper()
	if strings.Contains(s, secret) {
		t.Errorf("%s shows the password: %s", what, s)
	}
}

func TestStartErrorsHideThePassword(t *testing.T) {
	for _, cfg := range []Config{
		{URL: "ftp://user:s3cret@127.0.0.1/"},
		{URL: "http://user:s3cret@127.0.0.1/%zz"},
		{URL: "http://user:s3%zzcret@127.0.0.1/"},
		{URL: "http://user:s3cret@/"},
		{URL: "user:s3cret@127.0.0.1"},
		{URL: "http://user:s3cret@127.0.0.1/", Rate: -1},
		{URL: "http://user:s3cret@127.0.0.1/", Timeout: -time.Second},
	} {
		p, err := Start(context.Background(), cfg)
		if err == nil {
			p.Stop()
			t.Errorf("Start(%+v) succeeded, want an error", cfg)
			continue
		}
		wantNoSecret(t, "Start's error", err.Error())
		if perr := Ping(context.Background(), cfg); perr == nil || perr.Error() != err.Error() {
			t.Errorf("Ping's error %v, want Start's %v", perr, err)
		}
	}
}

// The credentials reach the service, but no Result shows them, whatever
// failed.
func TestResultHidesThePassword(t *testing.T) {
	var welcomed atomic.Int64
	authed := server(t, func(w http.ResponseWriter, r *http.Request) {
		if u, pw, _ := r.BasicAuth(); u != "user" || pw != secret {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		welcomed.Add(1)
		ok(w, r)
	})
	hanging := server(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	withSecret := func(u string) string { return strings.Replace(u, "http://", "http://user:"+secret+"@", 1) }
	tests := []struct {
		name, url, failure string
		timeout            time.Duration
	}{
		{"answers", withSecret(authed.URL), "", slowMachine},
		{"refused", withSecret(refusedURL(t)), reasonRefused, slowMachine},
		{"hangs", withSecret(hanging.URL), reasonTimeout, 200 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustStart(t, Config{URL: tc.url, Rate: 100, Timeout: tc.timeout})
			waitFor(t, "a request's outcome", func() bool {
				if tc.failure == "" {
					return welcomed.Load() > 0
				}
				return p.failuresOf(tc.failure) > 0
			})
			r := stop(t, p)
			if tc.failure == "" && r.Failed != 0 {
				t.Errorf("failures %v: want none, the credentials should reach the service", r.Failures)
			}
			if tc.failure != "" && r.Failures[tc.failure] == 0 {
				t.Errorf("failures %v: want %q", r.Failures, tc.failure)
			}
			if want := strings.Replace(tc.url, secret, mask, 1); r.URL != want {
				t.Errorf("Result.URL %q, want %q", r.URL, want)
			}
			j, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			wantNoSecret(t, "the result's JSON", string(j))
			wantNoSecret(t, "the result's line", r.Line())
		})
	}
}
