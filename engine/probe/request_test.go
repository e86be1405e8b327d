package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// One request against servers that answer in every way the probe tells apart.
func TestGetReasons(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + closed.Addr().String() + "/"
	closed.Close()

	tests := []struct {
		name    string
		handler http.HandlerFunc
		url     string // instead of a server
		want    string
	}{
		{name: "200", handler: ok, want: ""},
		{name: "204", handler: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }, want: ""},
		{name: "redirect is up, not followed", handler: func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/elsewhere" {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}, want: ""},
		{name: "404", handler: http.NotFound, want: "404"},
		{name: "503", handler: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }, want: "503"},
		{name: "cut body", handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "100")
			_, _ = w.Write([]byte("only ten.."))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}, want: reasonCutBody},
		{name: "headers then hang", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}, want: reasonTimeout},
		{name: "hang", handler: func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, want: reasonTimeout},
		{name: "no answer at all", handler: func(w http.ResponseWriter, _ *http.Request) {
			c, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				c.Close()
			}
		}, want: reasonEOF},
		{name: "connection refused", url: refused, want: reasonRefused},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.url
			if tc.handler != nil {
				u = server(t, tc.handler).URL
			}
			// Only the hanging servers need the timeout to pass; the others
			// get one that a loaded machine's answer cannot outlast.
			timeout := slowMachine
			if tc.want == reasonTimeout {
				timeout = 300 * time.Millisecond
			}
			p := &Probe{cfg: Config{URL: u, Rate: 1, Timeout: timeout}, client: newClient(minInFlight)}
			defer p.client.CloseIdleConnections()
			if got, _ := p.get(context.Background()); got != tc.want {
				t.Errorf("reason %q, want %q", got, tc.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	sys := func(errno syscall.Errno) error {
		return &url.Error{Op: "Get", URL: "http://127.0.0.1:1/", Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}}
	}
	long := strings.Repeat("x", 100)
	tests := []struct {
		err  error
		want string
	}{
		{sys(syscall.ECONNREFUSED), reasonRefused},
		{sys(syscall.ECONNRESET), reasonReset},
		{sys(syscall.EHOSTUNREACH), "no route to host"},
		{&url.Error{Op: "Get", URL: "http://x/", Err: context.DeadlineExceeded}, reasonTimeout},
		{fmt.Errorf("reading: %w", io.ErrUnexpectedEOF), reasonEOF},
		{&url.Error{Op: "Get", URL: "http://x/", Err: io.EOF}, reasonEOF},
		{&url.Error{Op: "Get", URL: "http://nowhere.invalid/", Err: &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "nowhere.invalid", IsNotFound: true}}},
			"lookup nowhere.invalid: no such host"},
		{errors.New(long), long[:maxReasonLength]},
	}
	for _, tc := range tests {
		if got := classify(context.Background(), tc.err); got != tc.want {
			t.Errorf("classify(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got := classify(ctx, errors.New("anything")); got != reasonTimeout {
		t.Errorf("classify after the request's context ended = %q, want %q", got, reasonTimeout)
	}
}
