package wait

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/steptest"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func nodeAt(host string) *steptest.Context {
	rc := &steptest.Context{}
	rc.NodeInfo = step.Node{Name: "node-a", Host: host}
	return rc
}

func TestWaitPort(t *testing.T) {
	tests := []struct {
		name      string
		with      func(port int) map[string]any
		listen    bool // a listener exists when the step starts
		change    bool // once the step has looked, the listener appears (or goes away)
		wantErr   bool // the step's time ends once it has looked: a timeout naming what it saw
		wantAddr  func(port int) string
		wantTries int // at least
	}{
		{name: "opens later, from control to node host", with: func(p int) map[string]any { return map[string]any{"port": p} }, change: true, wantTries: 2},
		{name: "port as text, from node", with: func(p int) map[string]any { return map[string]any{"port": strconv.Itoa(p), "from": "node"} }, change: true, wantTries: 2},
		{name: "already open", with: func(p int) map[string]any { return map[string]any{"port": p, "host": "127.0.0.1"} }, listen: true, wantTries: 1},
		{name: "closes later", with: func(p int) map[string]any { return map[string]any{"port": p, "state": "closed"} }, listen: true, change: true, wantTries: 2},
		{name: "never opens", with: func(p int) map[string]any { return map[string]any{"port": p} }, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			port := freePort(t)
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			var ln net.Listener
			open := func() {
				var err error
				if ln, err = net.Listen("tcp", addr); err != nil {
					t.Error(err)
				}
			}
			if tc.listen {
				open()
			}
			defer func() {
				if ln != nil {
					ln.Close()
				}
			}()
			act, err := steptest.Build("wait-port", fast(tc.with(port)))
			if err != nil {
				t.Fatal(err)
			}
			rc := nodeAt("127.0.0.1")
			looked := func() bool { return rc.Logged() != "" }
			done := make(chan struct{})
			go func() {
				defer close(done)
				if !tc.change {
					return
				}
				waitUntil(looked)
				if tc.listen {
					ln.Close()
				} else {
					open()
				}
			}()
			var out step.Outcome
			if tc.wantErr {
				out, err = steptest.RunUntil(act, rc, looked, 30*time.Second)
			} else {
				out, err = steptest.Run(act, rc, 30*time.Second)
			}
			<-done
			if tc.wantErr {
				if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "connection refused") {
					t.Fatalf("err = %v, want a timeout naming the last refusal", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v\n%s", err, rc.Logged())
			}
			if out.Data["address"] != addr {
				t.Errorf("address = %v, want %s", out.Data["address"], addr)
			}
			if n := out.Data["attempts"].(int); n < tc.wantTries {
				t.Errorf("attempts = %d, want at least %d", n, tc.wantTries)
			}
		})
	}
}

func TestWaitHTTP(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		switch r.URL.Path {
		case "/warming": // 503 twice, then 200 with the new version
			if n <= 2 {
				http.Error(w, "starting", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprint(w, `{"version":"7.7.0"}`)
		case "/old":
			fmt.Fprint(w, `{"version":"7.5.3"}`)
		case "/teapot":
			w.WriteHeader(http.StatusTeapot)
		}
	}))
	defer srv.Close()
	tests := []struct {
		name    string
		with    map[string]any
		wantErr string // the step's time ends once it has looked: a timeout naming what it saw
		body    string
	}{
		{name: "503 then 200", with: map[string]any{"url": srv.URL + "/warming"}, body: `{"version":"7.7.0"}`},
		{name: "from node", with: map[string]any{"url": srv.URL + "/old", "from": "node"}, body: `{"version":"7.5.3"}`},
		{name: "other status", with: map[string]any{"url": srv.URL + "/teapot", "status": 418}},
		{name: "body must match", with: map[string]any{"url": srv.URL + "/old", "body": `"version":"7\.7`}, wantErr: `body does not match`},
		{name: "wrong status times out", with: map[string]any{"url": srv.URL + "/teapot"}, wantErr: "status 418 (want 200)"},
		{name: "no server", with: map[string]any{"url": fmt.Sprintf("http://127.0.0.1:%d/", freePort(t))}, wantErr: "connection refused"},
		{name: "not a url", with: map[string]any{"url": "ftp://x/"}, wantErr: "not an http"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls.Store(0)
			act, err := steptest.Build("wait-http", fast(tc.with))
			if err != nil {
				t.Fatal(err)
			}
			rc := nodeAt("127.0.0.1")
			var out step.Outcome
			if tc.wantErr != "" {
				out, err = steptest.RunUntil(act, rc, func() bool { return rc.Logged() != "" }, 30*time.Second)
			} else {
				out, err = steptest.Run(act, rc, 30*time.Second)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v\n%s", err, rc.Logged())
			}
			if out.Stdout != tc.body {
				t.Errorf("stdout = %q, want %q", out.Stdout, tc.body)
			}
		})
	}
	if _, err := steptest.Build("wait-http", map[string]any{"url": "http://x/", "body": "a(b"}); err == nil {
		t.Error("a bad body regex was accepted at build time")
	}
}

func TestWaitExplain(t *testing.T) {
	tests := []struct {
		typ  string
		with map[string]any
		want string
	}{
		{"wait-port", map[string]any{"port": 8075}, "wait until tcp 10.0.0.11:8075 accepts connections from the control node (connect timeout 2s); check every 1s, up to 5m0s (or the step's timeout, if sooner)"},
		{"wait-port", map[string]any{"port": "9160", "from": "node", "state": "closed", "timeout": "30s"}, "wait until tcp 127.0.0.1:9160 refuses connections from node-a (connect timeout 2s); check every 1s, up to 30s (or the step's timeout, if sooner)"},
		{"wait-http", map[string]any{"url": "http://10.0.0.11:8080/healthz", "body": "ok", "timeout": "2m"}, "wait until GET http://10.0.0.11:8080/healthz from the control node answers status 200 and a body matching ok (each request up to 5s); check every 1s, up to 2m0s (or the step's timeout, if sooner)"},
	}
	for _, tc := range tests {
		act, err := steptest.Build(tc.typ, tc.with)
		if err != nil {
			t.Fatal(err)
		}
		got, err := act.Explain(nodeAt("10.0.0.11"))
		if err != nil || len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s Explain = %q, %v\nwant %q", tc.typ, got, err, tc.want)
		}
	}
}
