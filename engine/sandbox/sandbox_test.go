package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/engine/load"
	_ "github.com/zdu-dev/zdu/steps/all"
	"github.com/zdu-dev/zdu/steps/lb/haproxy"
	"github.com/zdu-dev/zdu/steps/lb/lbtest"
	"github.com/zdu-dev/zdu/steps/lb/loopback"
	"github.com/zdu-dev/zdu/steps/transport"
	zssh "github.com/zdu-dev/zdu/steps/transport/ssh"
)

func startSandbox(t *testing.T, cfg Config) *Sandbox {
	t.Helper()
	lbtest.Need(t, loopback.HAProxyPath, "haproxy")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("closing the sandbox: %v", err)
		}
	})
	return s
}

var novaNodes = []NodeSpec{
	{Name: "controller", Groups: []string{"nova-api", "controller"}},
	{Name: "api-1", Groups: []string{"nova-api"}},
	{Name: "api-2", Groups: []string{"nova-api"}},
}

// TestSandboxUpgradeOverSSH upgrades one node the way the nova plan does,
// through the node's SSH server, with traffic through HAProxy all along,
// and reaches HAProxy's admin socket from the control node and through a
// node's SSH connection.
func TestSandboxUpgradeOverSSH(t *testing.T) {
	s := startSandbox(t, Config{Nodes: novaNodes, Backend: "nova-api"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	load := lbtest.StartLoad(s.URL+"/", 4)
	defer load.Stop()
	if err := lbtest.WaitUntil(ctx, func() bool {
		c := load.Counts()
		return c.ByBody["controller v1"] > 5 && c.ByBody["api-1 v1"] > 5 && c.ByBody["api-2 v1"] > 5
	}); err != nil {
		t.Fatalf("not every node answered through HAProxy: %v (%v)", err, load.Counts())
	}
	n := s.Node("api-1")
	tr, err := zssh.Dial(ctx, zssh.Config{Name: "api-1", Host: "127.0.0.1", Port: n.SSH.Port, User: s.User,
		IdentityFiles: []string{s.ClientKey}, KnownHostsFiles: []string{s.KnownHosts}, SSHConfigFile: "none"})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	lb := haproxy.NewClient("sandbox", "unix", s.HAProxy.Socket, tr.Dial)
	for _, line := range []string{"set server nova-api/api-1 state drain", "set server nova-api/api-1 weight 0"} {
		if _, err := lb.Do(ctx, line); err != nil {
			t.Fatalf("%s through the node's SSH: %v", line, err)
		}
	}
	if err := lbtest.WaitUntil(ctx, func() bool { return n.Service.Backend.InFlight() == 0 }); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"apt-get install -y --only-upgrade nova-api", "systemctl restart nova-api"} {
		res, err := tr.Run(ctx, transport.Command{Script: cmd, Become: true})
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("%s: %v exit %d: %s", cmd, err, res.ExitCode, res.Stderr)
		}
	}
	for _, line := range []string{"set server nova-api/api-1 weight 10", "set server nova-api/api-1 state ready"} {
		if _, err := s.HAProxy.Command(ctx, line); err != nil {
			t.Fatal(err)
		}
	}
	if err := lbtest.WaitUntil(ctx, func() bool { return load.Counts().ByBody["api-1 v2"] > 5 }); err != nil {
		t.Fatalf("the upgraded node never answered v2: %v", load.Counts())
	}
	c := load.Stop()
	if c.Failed != 0 {
		t.Errorf("failed requests = %d, want 0: %v", c.Failed, c)
	}
	want := map[string]string{"controller": "v1", "api-1": "v2", "api-2": "v1"}
	for node, o := range s.Observe(ctx) {
		if want[node] != o.Version || o.State != StateRunning {
			t.Errorf("node %s answers %+v, want %s running", node, o, want[node])
		}
	}
}

// TestSandboxInventoryFitsShippedPlans binds the shipped plans to the
// generated inventory: every required param and the load balancer resolve
// without --set.
func TestSandboxInventoryFitsShippedPlans(t *testing.T) {
	for _, tc := range []struct {
		plan  string
		cfg   Config
		check func(t *testing.T, s *Sandbox, inv string)
	}{
		{"nova-api.yaml", Config{Nodes: novaNodes, Backend: "nova-api", MinHealthy: 1}, nil},
		{"axway-7.7.yaml", Config{Backend: "apigateway", LoadBalancer: "gateway", MinHealthy: 1, Nodes: []NodeSpec{
			{Name: "Node-A", Groups: []string{"Gateway", "AdminNodeManager"}},
			{Name: "Node-B", Groups: []string{"Gateway", "NodeManager"}},
			{Name: "Node-C", Groups: []string{"GatewayManager", "AdminNodeManager"}},
		}}, func(t *testing.T, s *Sandbox, inv string) {
			if !strings.Contains(inv, "Axway 7.5.3") || !strings.Contains(inv, s.HAProxy.Socket) {
				t.Errorf("inventory lacks the install dir or the admin socket:\n%s", inv)
			}
		}},
	} {
		t.Run(tc.plan, func(t *testing.T) {
			r, probs := FindRehearsal(filepath.Join("..", "..", "plans", tc.plan))
			if len(probs) > 0 || r.File == "" {
				t.Fatalf("the shipped plan's rehearsal file: %v", probs)
			}
			tc.cfg.Rehearsal = r
			s := startSandbox(t, tc.cfg)
			pdata, err := os.ReadFile(filepath.Join("..", "..", "plans", tc.plan))
			if err != nil {
				t.Fatal(err)
			}
			idata, err := os.ReadFile(s.Inventory)
			if err != nil {
				t.Fatal(err)
			}
			p, probs := load.ParsePlan(filepath.Join("..", "..", "plans", tc.plan), pdata)
			if len(probs) > 0 {
				t.Fatalf("plan: %v", probs)
			}
			inv, probs := load.ParseInventory(s.Inventory, idata)
			if len(probs) > 0 {
				t.Fatalf("generated inventory: %v\n%s", probs, idata)
			}
			if _, probs := load.Bind(p, inv, load.BindOptions{RequireParams: true}); len(probs) > 0 {
				t.Fatalf("binding %s to the sandbox: %v\n%s", tc.plan, probs, idata)
			}
			if tc.check != nil {
				tc.check(t, s, string(idata))
			}
		})
	}
}

func TestSandboxFailureAndErrors(t *testing.T) {
	s := startSandbox(t, Config{Nodes: novaNodes[:2], Fail: []Failure{{Node: "api-1", Step: "restart", ExitCode: 7}}})
	if s.Node("api-1") == nil || s.Node("nope") != nil {
		t.Fatal("Node lookup is wrong")
	}
	if _, err := os.Stat(filepath.Join(s.Node("api-1").Layout.FailDir(), "restart")); err != nil {
		t.Errorf("failure not injected: %v", err)
	}
	ctx := context.Background()
	if _, err := Start(ctx, Config{Nodes: novaNodes[:1], Fail: []Failure{{Node: "ghost", Step: "apply"}}}); err == nil ||
		!strings.Contains(err.Error(), "ghost") {
		t.Errorf("a failure on an unknown node: %v", err)
	}
	old := loopback.HAProxyPath
	loopback.HAProxyPath = filepath.Join(t.TempDir(), "no-haproxy")
	_, err := Start(ctx, Config{Nodes: novaNodes[:1]})
	loopback.HAProxyPath = old
	if !errors.Is(err, ErrNoHAProxy) || !strings.Contains(err.Error(), "apt-get install haproxy") {
		t.Errorf("without HAProxy: %v, want ErrNoHAProxy saying how to install it", err)
	}
	for _, tc := range []struct {
		in   string
		want Failure
		bad  bool
	}{
		{"Node-B:apply", Failure{Node: "Node-B", Step: "apply", ExitCode: 1}, false},
		{"Node-B:apply:73", Failure{Node: "Node-B", Step: "apply", ExitCode: 73}, false},
		{"Node-B", Failure{}, true},
		{"Node-B:apply:x", Failure{}, true},
		{":apply", Failure{}, true},
	} {
		got, err := ParseFailure(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("ParseFailure(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

// TestReapStale: a sandbox whose owner died (a rehearsal killed with
// SIGKILL runs no teardown) is found by the next rehearsal: its HAProxy and
// other processes are killed and its directory, private key included,
// removed. A sandbox whose owner runs is left alone.
func TestReapStale(t *testing.T) {
	live := startSandbox(t, Config{Nodes: novaNodes[:2], Backend: "nova-api"})
	dead := startSandbox(t, Config{Nodes: novaNodes[:2], Backend: "nova-api"})
	pid := dead.HAProxy.Pid()
	dead.owner.Close() // what the owner's death does; its teardown never runs
	dead.owner = nil
	reaped, err := ReapStale()
	if err != nil {
		t.Fatal(err)
	}
	// Other stale sandboxes of this machine may be reaped too; these two
	// are what the test knows.
	if !slices.Contains(reaped, dead.Dir) || slices.Contains(reaped, live.Dir) {
		t.Fatalf("reaped %v, want %s and not %s", reaped, dead.Dir, live.Dir)
	}
	if _, err := os.Stat(dead.Dir); !os.IsNotExist(err) {
		t.Errorf("%s is still there", dead.Dir)
	}
	for i := 0; ; i++ {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if err != nil || strings.Contains(string(b), ") Z ") {
			break // gone, or a zombie waiting for its parent (this test)
		}
		if i == 100 {
			t.Fatalf("the stale sandbox's HAProxy (pid %d) still runs", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(live.Dir); err != nil {
		t.Errorf("the live sandbox was touched: %v", err)
	}
	if !mentions([]byte("haproxy\x00-f\x00"+dead.Dir+"/haproxy/haproxy.cfg"), dead.Dir) || mentions([]byte("x\x00"+dead.Dir+"9/y"), dead.Dir) {
		t.Error("mentions must match the directory and paths inside it only")
	}
}
