package haproxysocket

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/steps/lb/haproxy"
	"github.com/zdu-dev/zdu/steps/lb/lbtest"
	"github.com/zdu-dev/zdu/steps/lb/loopback"
	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/steptest"
	"github.com/zdu-dev/zdu/steps/transport"
	"github.com/zdu-dev/zdu/steps/transport/local"
	"github.com/zdu-dev/zdu/steps/wait"
)

type fixture struct {
	h1, h2 *loopback.HAProxy
	rc     *steptest.Context
}

func setup(t *testing.T) *fixture {
	t.Helper()
	lbtest.Need(t, loopback.HAProxyPath, "haproxy")
	var bs []*loopback.Backend
	for _, n := range []string{"s1", "s2"} {
		b, err := loopback.NewBackend(n, "v1")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		bs = append(bs, b)
	}
	f := &fixture{
		h1: lbtest.MustHAProxy(t, loopback.HAProxyConfig{Servers: bs}),
		h2: lbtest.MustHAProxy(t, loopback.HAProxyConfig{Servers: bs, TCPAdmin: true}),
	}
	f.rc = &steptest.Context{
		NodeInfo: step.Node{Name: "s1"},
		Others:   map[string]transport.Transport{"lb-host": local.New()},
		LBs: map[string]step.LoadBalancer{
			"web": {Name: "web", Driver: "haproxy", Backend: "app", Instances: []step.LBInstance{
				{Name: "lb1", Config: haproxy.Config{Socket: f.h1.Socket}},
				{Name: "lb2", Via: "lb-host", Config: haproxy.Config{Address: f.h2.TCPAddr}},
			}},
			"edge": {Name: "edge", Driver: "nginx"},
		},
	}
	return f
}

func run(t *testing.T, with map[string]any, rc step.Context) (step.Outcome, error) {
	t.Helper()
	act, err := steptest.Build("haproxy-socket", with)
	if err != nil {
		t.Fatal(err)
	}
	return steptest.Run(act, rc, 30*time.Second)
}

func TestSend(t *testing.T) {
	f := setup(t)
	tests := []struct {
		name       string
		with       map[string]any
		wantStdout string
		wantErr    string
		level      bool
	}{
		{name: "every instance of an lb", with: map[string]any{"lb": "web", "commands": []any{"set weight app/s1 4", "get weight app/s1"}, "expect": `^\n4 \(initial 10\)$`},
			wantStdout: "# lb1\n\n4 (initial 10)\n# lb2\n\n4 (initial 10)\n"},
		{name: "explicit socket", with: map[string]any{"socket": f.h1.Socket, "commands": "get weight app/s2"}, wantStdout: "10 (initial 10)\n"},
		{name: "tcp address via a node", with: map[string]any{"address": f.h2.TCPAddr, "via": "lb-host", "commands": "show cli level"}, wantStdout: "admin\n"},
		{name: "user level allowed", with: map[string]any{"socket": f.h1.UserSocket, "level": "user", "commands": "show cli level"}, wantStdout: "user\n"},
		{name: "expect fails", with: map[string]any{"lb": "web", "commands": "get weight app/s2", "expect": "^0 "},
			wantErr: `does not match expect ^0 : lb1 answered "10 (initial 10)"`},
		{name: "haproxy refuses", with: map[string]any{"socket": f.h1.Socket, "commands": "get weight app/nope", "expect": "initial"},
			wantErr: "No such server"},
		{name: "user socket", with: map[string]any{"socket": f.h1.UserSocket, "commands": "show stat"},
			wantErr: `haproxy socket (unix:` + f.h1.UserSocket + ` via control node) is at level "user", zdu needs "admin"`, level: true},
		{name: "operator socket", with: map[string]any{"socket": f.h1.OperatorSocket, "commands": "show stat"},
			wantErr: `operator.sock via control node) is at level "operator", zdu needs "admin"`, level: true},
		{name: "missing socket", with: map[string]any{"socket": f.h1.Dir + "/gone.sock", "commands": "show stat"},
			wantErr: `haproxy socket (unix:` + f.h1.Dir + `/gone.sock via control node): connecting: dial unix`},
		{name: "not an haproxy lb", with: map[string]any{"lb": "edge", "commands": "show stat"}, wantErr: "uses the nginx driver"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(t, tc.with, f.rc)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if errors.Is(err, haproxy.ErrLevel) != tc.level {
					t.Errorf("errors.Is(err, ErrLevel) = %v", !tc.level)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.Stdout != tc.wantStdout {
				t.Errorf("stdout = %q, want %q", out.Stdout, tc.wantStdout)
			}
		})
	}
}

// until polls: the answer matches once something else changes HAProxy, and
// the change comes after a round that did not match.
func TestUntil(t *testing.T) {
	f := setup(t)
	looked := func() bool { return strings.Contains(f.rc.Logged(), " answered ") }
	go func() {
		deadline := time.Now().Add(30 * time.Second)
		for !looked() && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		for _, h := range []*loopback.HAProxy{f.h1, f.h2} {
			_, _ = h.Command(context.Background(), "set server app/s2 state maint")
		}
	}()
	_, err := run(t, map[string]any{"lb": "web", "commands": "show stat", "until": `\napp,s2,[^\n]*,MAINT,`, "interval": "50ms", "timeout": "20s"}, f.rc)
	if err != nil {
		t.Fatalf("until: %v\n%s", err, f.rc.Logged())
	}
	if !looked() {
		t.Errorf("the answers matched at the first round, before the change:\n%s", f.rc.Logged())
	}
	// Its time ends once it has seen an answer that does not match: the
	// timeout names the last answer.
	act, err := steptest.Build("haproxy-socket", map[string]any{"lb": "web", "commands": "get weight app/s1", "until": "^7 ", "interval": "50ms"})
	if err != nil {
		t.Fatal(err)
	}
	rc := &steptest.Context{NodeInfo: f.rc.NodeInfo, Others: f.rc.Others, LBs: f.rc.LBs}
	_, err = steptest.RunUntil(act, rc, func() bool { return strings.Contains(rc.Logged(), " answered ") }, 30*time.Second)
	if !errors.Is(err, wait.ErrTimeout) || !strings.Contains(err.Error(), `lb1 answered "10 (initial 10)"`) {
		t.Fatalf("err = %v, want a timeout with the last answer", err)
	}
}

func TestExplain(t *testing.T) {
	rc := &steptest.Context{NodeInfo: step.Node{Name: "controller"}, LBs: map[string]step.LoadBalancer{
		"nova-api": {Name: "nova-api", Driver: "haproxy", Backend: "nova-api", Instances: []step.LBInstance{
			{Name: "haproxy-1", Via: "haproxy-1", Config: haproxy.Config{Socket: "/var/run/haproxy.sock"}},
			{Name: "haproxy-2", Via: "haproxy-2", Config: haproxy.Config{Socket: "/var/run/haproxy.sock"}},
		}},
	}}
	act, err := steptest.Build("haproxy-socket", map[string]any{"lb": "nova-api", "commands": "set server nova-api/controller state drain", "until": "x", "timeout": "30s"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := act.Explain(rc)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"haproxy haproxy-1 (unix:/var/run/haproxy.sock via haproxy-1): show cli level (must be at least admin)",
		"haproxy haproxy-1 (unix:/var/run/haproxy.sock via haproxy-1): set server nova-api/controller state drain",
		"haproxy haproxy-2 (unix:/var/run/haproxy.sock via haproxy-2): show cli level (must be at least admin)",
		"haproxy haproxy-2 (unix:/var/run/haproxy.sock via haproxy-2): set server nova-api/controller state drain",
		"repeat every 1s until the answers match x on every instance, up to 30s",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Explain =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestBuildErrors(t *testing.T) {
	for _, with := range []map[string]any{
		{"commands": "show stat"},
		{"lb": "web", "socket": "/x", "commands": "show stat"},
		{"lb": "web"},
		{"lb": "web", "via": "n", "commands": "show stat"},
		{"socket": "/x", "commands": "show stat", "expect": "a(b"},
		{"socket": "/x", "commands": "show stat", "expect": "a", "until": "b"},
		{"socket": "/x", "commands": "show stat", "level": "root"},
	} {
		if _, err := steptest.Build("haproxy-socket", with); err == nil {
			t.Errorf("Build(%v) passed, want an error", with)
		}
	}
}
