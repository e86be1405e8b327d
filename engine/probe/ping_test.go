package probe

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// refusedURL is a loopback URL nothing listens on.
func refusedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String() + "/"
	l.Close()
	return u
}

// counting serves with h and counts the requests it got.
func counting(t *testing.T, h http.HandlerFunc) (url string, got *atomic.Int32) {
	t.Helper()
	got = new(atomic.Int32)
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		h(w, r)
	})
	return srv.URL, got
}

func unavailable(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "down", http.StatusServiceUnavailable)
}

func TestPing(t *testing.T) {
	var calls atomic.Int32
	tests := []struct {
		name     string
		handler  http.HandlerFunc // nil: nothing listens
		password bool             // the URL carries one
		want     []string         // in the error; none: Ping succeeds
		requests int32
	}{
		{name: "answers", handler: ok, requests: 1},
		{name: "redirect is an answer", handler: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}, requests: 1},
		{name: "refused", want: []string{"does not answer: connection refused (3 tries)"}},
		{name: "503", handler: unavailable, want: []string{"does not answer: 503 (3 tries)"}, requests: 3},
		{name: "503, then up", handler: func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				unavailable(w, r)
				return
			}
			ok(w, r)
		}, requests: 2},
		{name: "refused, password hidden", password: true, want: []string{"http://user:xxxxx@127.0.0.1:", "connection refused"}},
		{name: "503, password hidden", handler: unavailable, password: true, want: []string{"http://user:xxxxx@127.0.0.1:", "503"}, requests: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, got := refusedURL(t), new(atomic.Int32)
			if tc.handler != nil {
				u, got = counting(t, tc.handler)
			}
			if tc.password {
				u = strings.Replace(u, "http://", "http://user:"+secret+"@", 1)
			}
			err := Ping(context.Background(), Config{URL: u, Timeout: slowMachine})
			switch {
			case len(tc.want) == 0 && err != nil:
				t.Errorf("Ping = %v, want nil", err)
			case len(tc.want) > 0 && err == nil:
				t.Errorf("Ping = nil, want an error")
			case err != nil:
				wantNoSecret(t, "Ping's error", err.Error())
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("Ping = %q, want it to say %q", err, w)
					}
				}
			}
			if got.Load() != tc.requests {
				t.Errorf("the server got %d requests, want %d", got.Load(), tc.requests)
			}
		})
	}
}

func TestPingNamesTheURL(t *testing.T) {
	u := refusedURL(t)
	err := Ping(context.Background(), Config{URL: u})
	if want := u + " does not answer: connection refused (3 tries)"; err == nil || err.Error() != want {
		t.Errorf("Ping = %v, want %q", err, want)
	}
}

// The end of ctx ends Ping: before it starts, during a request (the
// timeout, an hour, could not), or after a failed try (no other try
// follows). Each ctx ends on an event at the server, not after a sleep.
func TestPingStopsWithContext(t *testing.T) {
	tests := []struct {
		name     string
		handler  func(cancel context.CancelFunc) http.HandlerFunc
		requests int32
	}{
		{"before", nil, 0},
		{"during a request", func(cancel context.CancelFunc) http.HandlerFunc {
			return func(_ http.ResponseWriter, r *http.Request) { cancel(); <-r.Context().Done() }
		}, 1},
		{"after a failed try", func(cancel context.CancelFunc) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { unavailable(w, r); cancel() }
		}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			h := ok
			if tc.handler == nil {
				cancel()
			} else {
				h = tc.handler(cancel)
			}
			u, got := counting(t, h)
			errc := make(chan error, 1)
			go func() { errc <- Ping(ctx, Config{URL: u, Timeout: time.Hour}) }()
			var err error
			select {
			case err = <-errc:
			case <-time.After(hangLimit):
				t.Fatalf("Ping did not return within %s of its context's end", hangLimit)
			}
			if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), u) {
				t.Errorf("Ping = %v, want context.Canceled naming %s", err, u)
			}
			if got.Load() != tc.requests {
				t.Errorf("the server got %d requests, want %d", got.Load(), tc.requests)
			}
		})
	}
}
