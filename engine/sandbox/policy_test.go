package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/steps/steptest"
	"github.com/zdu-dev/zdu/steps/transport"
	zssh "github.com/zdu-dev/zdu/steps/transport/ssh"
)

// TestPolicyOverSSH sends commands to a sandbox node over SSH, as a plan's
// steps do: a command nothing covers is not run (the file it would create
// does not exist) and says why; stand-ins answer with their output, exit
// code and effect on the service, whose state is then what it answers; an
// injected failure of a stand-in fires; an allowed command runs, and the
// transport's kill of it on a timeout is let through.
func TestPolicyOverSSH(t *testing.T) {
	r, probs := ParseRehearsal("r.yaml", []byte(`apiVersion: zdu/v1
kind: Rehearsal
versions: {old: "1.0", new: "2.0"}
builtins: false
standins:
  - {name: stop, command: svc stop, effect: stop, output: "stopped {node}\n"}
  - {name: start, command: svc start, effect: start}
  - {command: svc status, effect: status}
  - {name: upgrade, command: "pkg install *", effect: install-new, output: "{installed}"}
  - {name: slow, command: svc slow, duration: 10m}
allow: ["sleep *", "test -e *", "id -u", "touch /root/*"]
`))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	s := startSandbox(t, Config{Nodes: novaNodes[1:2], Rehearsal: r})
	n := s.Node("api-1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tr, err := zssh.Dial(ctx, zssh.Config{Name: "api-1", Host: "127.0.0.1", Port: n.SSH.Port, User: s.User,
		IdentityFiles: []string{s.ClientKey}, KnownHostsFiles: []string{s.KnownHosts}, SSHConfigFile: "none",
		KillGrace: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	run := func(script string, become bool) transport.Result {
		t.Helper()
		res, err := tr.Run(ctx, transport.Command{Script: script, Become: become})
		if err != nil {
			t.Fatalf("%s: %v", script, err)
		}
		return res
	}

	marker := filepath.Join(t.TempDir(), "created")
	res := run("touch "+transport.Quote(marker), true)
	if res.ExitCode != RefusedExit || !strings.Contains(string(res.Stderr), "was not run: touch") {
		t.Errorf("uncovered command: exit %d, stderr %q; want %d and why", res.ExitCode, res.Stderr, RefusedExit)
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the uncovered command ran: %s exists (%v)", marker, err)
	}

	if res := run("pkg install 'web'", true); res.ExitCode != 0 || string(res.Stdout) != "2.0" {
		t.Errorf("pkg install: exit %d, stdout %q; want 0 and the new version installed", res.ExitCode, res.Stdout)
	}
	if o := n.Service.Observe(ctx); o.State != StateRunning || o.Version != "1.0" {
		t.Errorf("before the restart the service answers %+v, want 1.0 running", o)
	}
	if res := run("svc stop", true); res.ExitCode != 0 || string(res.Stdout) != "stopped api-1\n" {
		t.Errorf("svc stop: exit %d, stdout %q", res.ExitCode, res.Stdout)
	}
	if o := n.Service.Observe(ctx); o.State != StateStopped || o.Version != "" {
		t.Errorf("after svc stop the service answers %+v, want stopped", o)
	}
	if res := run("svc status", false); res.ExitCode != 3 {
		t.Errorf("svc status of a stopped service: exit %d, want 3", res.ExitCode)
	}
	run("svc start", true)
	if o := n.Service.Observe(ctx); o.State != StateRunning || o.Version != "2.0" {
		t.Errorf("after svc start the service answers %+v, want 2.0 running", o)
	}
	if res := run("svc status", false); res.ExitCode != 0 {
		t.Errorf("svc status of a running service: exit %d, want 0", res.ExitCode)
	}

	if err := InjectFailure(n.Layout, "stop", 9); err != nil {
		t.Fatal(err)
	}
	if res := run("svc stop", true); res.ExitCode != 9 || !s.Fired(Failure{Node: "api-1", Step: "stop"}) {
		t.Errorf("injected failure: exit %d, fired %v; want 9, fired", res.ExitCode, s.Fired(Failure{Node: "api-1", Step: "stop"}))
	}
	if !n.Service.Running() {
		t.Error("a failed stand-in still had its effect")
	}

	if res := run("test -e "+transport.Quote(n.Layout.Root), false); res.ExitCode != 0 {
		t.Errorf("an allowed command did not run: exit %d %s", res.ExitCode, res.Stderr)
	}
	// As root, the nodes' commands run as nobody: an allowed command that
	// writes where only root may fails.
	if os.Geteuid() == 0 {
		u, err := user.Lookup(UnprivilegedUser)
		if err != nil {
			t.Skipf("no user %s: %v", UnprivilegedUser, err)
		}
		if s.RunsAs != UnprivilegedUser {
			t.Fatalf("the sandbox runs its nodes' commands as %s (%s), want %s", s.RunsAs, s.RunsAsWhy, UnprivilegedUser)
		}
		if res := run("id -u", true); strings.TrimSpace(string(res.Stdout)) != u.Uid {
			t.Errorf("id -u on the node (with become) = %q, want %s's %s", res.Stdout, UnprivilegedUser, u.Uid)
		}
		name := "/root/zdu-sandbox-test-" + strconv.Itoa(os.Getpid())
		if res := run("touch "+name, false); res.ExitCode == 0 {
			os.Remove(name)
			t.Errorf("a node's command wrote %s", name)
		}
	}
	for _, script := range []string{"sleep 3600", "svc slow"} {
		// The deadline passes once the command runs, not after a fixed time.
		started := func() bool {
			b, _ := os.ReadFile(n.Layout.Log())
			return strings.Contains(string(b), "slow") || procRuns("sleep\x003600")
		}
		dctx, stop := steptest.DeadlineWhen(started, 30*time.Second)
		_, err := tr.Run(dctx, transport.Command{Script: script})
		stop()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s past its deadline: %v, want deadline exceeded", script, err)
		}
	}
	waitFor(t, func() bool { return !procRuns("sleep\x003600") })
	if b, _ := os.ReadFile(n.Layout.Log()); strings.Contains(string(b), "REFUSED kill") || !strings.Contains(string(b), "REFUSED touch") {
		t.Errorf("the stand-ins' log shows the transport's kill refused, or not the touch:\n%s", b)
	}
}

// procRuns reports whether a process's command line (NUL-separated) is cmd.
func procRuns(cmd string) bool {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.TrimRight(string(b), "\x00") == cmd {
			return true
		}
	}
	return false
}

// TestInjectedNodeFaults: a slow start keeps the service's port closed for
// its duration (the plan's health wait must outlast it), and a node whose
// SSH goes down after N commands refuses the next one and every later
// connection.
func TestInjectedNodeFaults(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Failure
	}{
		{"n1:startup=40s", Failure{Node: "n1", Step: "startup", Fault: "startup=40s", Startup: 40 * time.Second}},
		{"n1:ssh=after:3", Failure{Node: "n1", Step: "ssh", Fault: "ssh=after:3", After: 3}},
		{"n1:health", Failure{Node: "n1", Step: "health", Fault: "health"}},
	} {
		if got, err := ParseFailure(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseFailure(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"n1:startup=0s", "n1:startup=soon", "n1:ssh=after:x", "n1:ssh=after:-1"} {
		if _, err := ParseFailure(bad); err == nil {
			t.Errorf("ParseFailure(%q) accepted it", bad)
		}
	}
	s := startSandbox(t, Config{Nodes: novaNodes[1:3], Startup: -1, Fail: []Failure{
		{Node: "api-1", Step: "startup", Startup: 2 * time.Second}, {Node: "api-2", Step: "ssh", After: 1}}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dial := func(name string) (*zssh.Transport, error) {
		return zssh.Dial(ctx, zssh.Config{Name: name, Host: "127.0.0.1", Port: s.Node(name).SSH.Port, User: s.User,
			IdentityFiles: []string{s.ClientKey}, KnownHostsFiles: []string{s.KnownHosts}, SSHConfigFile: "none"})
	}
	tr, err := dial("api-1")
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	// The new version's restart returns at once; the service answers only
	// once the injected startup has passed (a lower bound: a loaded
	// machine only adds).
	start := time.Now()
	for _, c := range []string{"apt-get install -y nova-api", "systemctl restart nova-api"} {
		if res, err := tr.Run(ctx, transport.Command{Script: c}); err != nil || res.ExitCode != 0 {
			t.Fatalf("%s: %v %d %s", c, err, res.ExitCode, res.Stderr)
		}
	}
	n := s.Node("api-1")
	waitFor(t, func() bool { return n.Service.Observe(ctx).State == StateRunning })
	if took := time.Since(start); took < 2*time.Second || !s.Fired(Failure{Node: "api-1", Step: "startup"}) {
		t.Errorf("the service answered %s after the restart began, fired %v; want at least the injected 2s", took, s.Fired(Failure{Node: "api-1", Step: "startup"}))
	}

	// The old version starts as before: the restart returns once it runs.
	for _, c := range []string{"apt-get install -y nova-api=v1", "systemctl restart nova-api"} {
		if res, err := tr.Run(ctx, transport.Command{Script: c}); err != nil || res.ExitCode != 0 {
			t.Fatalf("%s: %v %d %s", c, err, res.ExitCode, res.Stderr)
		}
	}
	if o := n.Service.Observe(ctx); o.State != StateRunning || o.Version != "v1" {
		t.Errorf("after the old version's restart the service answers %+v, want v1 running", o)
	}

	tr2, err := dial("api-2")
	if err != nil {
		t.Fatal(err)
	}
	defer tr2.Close()
	if res, err := tr2.Run(ctx, transport.Command{Script: "systemctl is-active nova-api"}); err != nil || res.ExitCode != 0 {
		t.Fatalf("the first command: %v %d", err, res.ExitCode)
	}
	if _, err := tr2.Run(ctx, transport.Command{Script: "systemctl is-active nova-api"}); err == nil {
		t.Error("the second command ran on a node whose SSH went down after one")
	}
	if !s.Fired(Failure{Node: "api-2", Step: "ssh"}) {
		t.Error("the ssh fault did not fire")
	}
	if _, err := dial("api-2"); err == nil {
		t.Error("a new connection to a node whose SSH went down was accepted")
	}
}

// TestRefusingLBInstance: with two HAProxy instances, --fail
// haproxy-2:refuse leaves the first answering and the second answering
// every command "Permission denied" (while still serving traffic), and
// the fault fires once a command was sent.
func TestRefusingLBInstance(t *testing.T) {
	if names := LBInstanceNames(Config{LBInstances: 2}); !slices.Equal(names, []string{"haproxy-1", "haproxy-2"}) {
		t.Errorf("instance names = %v", names)
	}
	s := startSandbox(t, Config{Nodes: novaNodes[1:3], LBInstances: 2, Fail: []Failure{{Node: "haproxy-2", Step: RefuseFault}}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if s.Fired(Failure{Node: "haproxy-2", Step: RefuseFault}) {
		t.Error("fired before any command")
	}
	if _, err := s.HAProxies[0].Command(ctx, "show info"); err != nil {
		t.Errorf("the first instance: %v", err)
	}
	out, err := s.HAProxies[1].Command(ctx, "show info")
	if !strings.Contains(out+fmt.Sprint(err), "Permission denied") {
		t.Errorf("the refusing instance answered %q, %v", out, err)
	}
	if !s.Fired(Failure{Node: "haproxy-2", Step: RefuseFault}) {
		t.Error("did not fire after a command")
	}
	if _, err := Start(ctx, Config{Nodes: novaNodes[1:2], Fail: []Failure{{Node: "haproxy-3", Step: RefuseFault}}}); err == nil ||
		!strings.Contains(err.Error(), `no load balancer instance "haproxy-3"`) {
		t.Errorf("refusing an unknown instance: %v", err)
	}
}
