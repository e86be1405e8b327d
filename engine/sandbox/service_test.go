package sandbox

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// standInNode is a node's root, stand-ins and service, without SSH.
type standInNode struct {
	l   Layout
	svc *Service
}

func newStandInNode(t *testing.T) *standInNode {
	t.Helper()
	l := NewLayout(filepath.Join(t.TempDir(), "node a"))
	if err := WriteStandIns(l, "v1", "v2"); err != nil {
		t.Fatal(err)
	}
	svc, err := StartService(context.Background(), "node-a", "v1", l.ControlDir(), 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = svc.Close()
		_ = KillDaemons(l)
	})
	return &standInNode{l: l, svc: svc}
}

// run runs script with the node's bin dir first on PATH, like the SSH node.
func (n *standInNode) run(t *testing.T, script string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script)
	cmd.Dir = n.l.Root
	cmd.Env = append(os.Environ(), "PATH="+n.l.Bin+":"+os.Getenv("PATH"),
		"OLD="+n.l.OldInstall, "NEW="+n.l.NewInstall)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String()
	}
	t.Fatalf("running %q: %v", script, err)
	return -1, ""
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func pgrep(t *testing.T, pattern string) bool {
	t.Helper()
	cmd := exec.Command("pgrep", "-f", "--", pattern)
	return cmd.Run() == nil
}

func TestAxwayStandIns(t *testing.T) {
	n := newStandInNode(t)
	url := "http://" + n.svc.Addr()
	steps := []struct {
		script   string
		wantCode int
		check    func(t *testing.T)
	}{
		{`"$OLD/apigateway/posix/bin/nodemanager" -d && "$OLD/apigateway/posix/bin/startinstance" -n gw -g G -d`, 0, func(t *testing.T) {
			if !pgrep(t, n.l.OldInstall+"/apigateway") {
				t.Error("no process of the old install is running")
			}
			if c, b := get(t, url+"/"); c != 200 || b != "node-a v1" {
				t.Errorf("service answered %d %q, want node-a v1", c, b)
			}
		}},
		{`cd "$NEW/apigateway/upgrade/bin" && ./sysupgrade export --old_install_dir "$OLD"`, 0, nil},
		{`"$OLD/apigateway/posix/bin/startinstance" -n gw -g G -k && "$OLD/apigateway/posix/bin/nodemanager" -k`, 0, func(t *testing.T) {
			waitFor(t, func() bool { return !pgrep(t, n.l.OldInstall+"/apigateway") })
			if n.svc.Running() {
				t.Error("service still running after startinstance -k")
			}
			if c, _ := get(t, url+"/health"); c != 0 {
				t.Errorf("stopped service answered %d", c)
			}
		}},
		{`cd "$NEW/apigateway/upgrade/bin" && ./sysupgrade apply`, 0, nil},
		{`"$NEW/apigateway/posix/bin/nodemanager" -d && "$NEW/apigateway/posix/bin/startinstance" -n gw -g G -d`, 0, func(t *testing.T) {
			if !pgrep(t, n.l.NewInstall+"/apigateway") || pgrep(t, n.l.OldInstall+"/apigateway") {
				t.Error("want the new install running and the old one stopped")
			}
			if c, b := get(t, url+"/health"); c != 200 || !strings.Contains(b, "v2") {
				t.Errorf("health answered %d %q, want 200 v2", c, b)
			}
		}},
		{`cd "$NEW/apigateway/upgrade/bin" && ./sysupgrade frobnicate`, 2, nil},
	}
	for _, s := range steps {
		code, out := n.run(t, s.script)
		if code != s.wantCode {
			t.Fatalf("%s: exit %d (%s), want %d", s.script, code, out, s.wantCode)
		}
		if s.check != nil {
			s.check(t)
		}
	}
}

func TestNovaStandIns(t *testing.T) {
	n := newStandInNode(t)
	url := "http://" + n.svc.Addr() + "/"
	for _, s := range []string{
		`sudo -n -- sh -c 'apt-get install -y --only-upgrade nova-api'`,
		`sudo -n -- sh -c 'systemctl restart nova-api'`,
		`systemctl kill --signal=HUP nova-conductor nova-api && nova-manage db online_data_migrations`,
	} {
		if code, out := n.run(t, s); code != 0 {
			t.Fatalf("%s: exit %d: %s", s, code, out)
		}
	}
	if c, b := get(t, url); c != 200 || b != "node-a v2" {
		t.Errorf("after upgrade and restart the service answered %d %q, want node-a v2", c, b)
	}
}

func TestInjectedFailures(t *testing.T) {
	for _, tc := range []struct {
		key, script string
		code        int
	}{
		{"apply", `cd "$NEW/apigateway/upgrade/bin" && ./sysupgrade apply`, 42},
		{"sysupgrade-export", `"$NEW/apigateway/upgrade/bin/sysupgrade" export --old_install_dir "$OLD"`, 3},
		{"restart", `systemctl restart nova-api`, 5},
		{"upgrade", `apt-get install -y nova-api`, 100},
		{"startinstance-d", `"$NEW/apigateway/posix/bin/startinstance" -n x -g y -d`, 9},
	} {
		t.Run(tc.key, func(t *testing.T) {
			n := newStandInNode(t)
			if err := InjectFailure(n.l, tc.key, tc.code); err != nil {
				t.Fatal(err)
			}
			code, out := n.run(t, tc.script)
			if code != tc.code || !strings.Contains(out, "injected failure "+tc.key) {
				t.Errorf("exit %d (%q), want %d and the injected failure named", code, out, tc.code)
			}
			if n.svc.Version() != "v1" || !n.svc.Running() {
				t.Errorf("a failed stand-in changed the service: %s running=%v", n.svc.Version(), n.svc.Running())
			}
		})
	}
}

func TestServiceStopIsGraceful(t *testing.T) {
	n := newStandInNode(t)
	n.svc.Backend.SetDelay(300 * time.Millisecond)
	type answer struct {
		code int
		body string
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := http.Get("http://" + n.svc.Addr() + "/slow")
		if err != nil {
			got <- answer{0, err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- answer{resp.StatusCode, strings.TrimSpace(string(b))}
	}()
	waitFor(t, func() bool { return n.svc.Backend.InFlight() == 1 })
	if code, out := n.run(t, `systemctl stop nova-api`); code != 0 {
		t.Fatalf("systemctl stop: exit %d: %s", code, out)
	}
	// The stop returned only after the in-flight request was answered.
	if s := n.svc.Backend.Served(); s != 1 {
		t.Errorf("served when stop returned = %d, want 1", s)
	}
	if a := <-got; a.code != 200 || a.body != "node-a v1" {
		t.Errorf("in-flight request got %d %q, want 200", a.code, a.body)
	}
	if code, _ := n.run(t, `systemctl is-active nova-api`); code != 3 {
		t.Errorf("is-active after stop exited %d, want 3", code)
	}
}

// TestBadVersion: --fail NODE:version=errors:5% makes the node's service
// answer 5% of requests 500 from its upgrade on (evenly: 5 of every 100),
// and a rollback to the old version makes it good again; latency:D slows
// every request of the new version; the response names the server.
func TestBadVersion(t *testing.T) {
	for _, bad := range []string{"n:version=errors:0", "n:version=errors:5", "n:version=errors:101%", "n:version=latency:-1s",
		"n:version=latency:2h", "n:version=slow:1s", ":version=errors:5%"} {
		if _, err := ParseFailure(bad); err == nil {
			t.Errorf("ParseFailure(%q) accepted", bad)
		}
	}
	f, err := ParseFailure("node-a:version=errors:5%")
	if err != nil || f.Step != "version" || f.ErrorRate != 0.05 || f.Fault != "errors:5%" {
		t.Fatalf("ParseFailure = %+v, %v", f, err)
	}
	if f, err := ParseFailure("node-a:version=latency:300ms"); err != nil || f.Latency != 300*time.Millisecond {
		t.Fatalf("latency: %+v, %v", f, err)
	}

	n := newStandInNode(t)
	n.svc.SetBadVersion("v1", f.ErrorRate, 0)
	count := func() (failed int, by string) {
		for range 100 {
			resp, err := http.Get("http://" + n.svc.Addr() + "/")
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				failed++
			}
			by = resp.Header.Get("X-Served-By")
		}
		return failed, by
	}
	if got, by := count(); got != 0 || by != "node-a" {
		t.Errorf("old version: %d of 100 failed (want 0), served by %q", got, by)
	}
	if n.svc.BadVersionServed() {
		t.Error("the bad version counts as served before the upgrade")
	}
	ctx := context.Background()
	if err := n.svc.Do(ctx, "restart v2"); err != nil {
		t.Fatal(err)
	}
	if got, _ := count(); got != 5 {
		t.Errorf("new version: %d of 100 failed, want 5", got)
	}
	if !n.svc.BadVersionServed() {
		t.Error("the bad version does not count as served")
	}
	if err := n.svc.Do(ctx, "restart v1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := count(); got != 0 {
		t.Errorf("rolled back: %d of 100 failed, want 0", got)
	}
}
