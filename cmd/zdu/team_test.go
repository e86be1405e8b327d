package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/zdu-dev/zdu/engine/exitcode"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/sandbox"
	"github.com/zdu-dev/zdu/engine/state/etcdstate"
	"github.com/zdu-dev/zdu/engine/state/etcdstate/etcdtest"
	"github.com/zdu-dev/zdu/engine/summary"
	"github.com/zdu-dev/zdu/steps/lb/lbtest"
	"github.com/zdu-dev/zdu/steps/lb/loopback"
)

// host is a control host of a team: a home and run directory of its own
// (no state directory shared with the others: only etcd).
type host struct {
	name, home, runDir string
	env                []string
}

func newHost(t *testing.T, name string) host {
	home := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	return host{name: name, home: home, runDir: filepath.Join(home, "run"),
		env: []string{"HOME=" + home, "ZDU_STATE=" + filepath.Join(home, "state"), "XDG_STATE_HOME=" + filepath.Join(home, "xdg")}}
}

// bg is a zdu process in the background.
type bg struct {
	cmd    *exec.Cmd
	out    *bytes.Buffer
	exited chan struct{}
}

func startZdu(t *testing.T, env []string, args ...string) *bg {
	t.Helper()
	p := &bg{cmd: exec.Command(zduBinary(t), args...), out: &bytes.Buffer{}, exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("zdu %s:\n%s", strings.Join(args, " "), lastLines(p.out.String(), 80))
		}
	})
	return p
}

func (p *bg) kill(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
		t.Fatalf("zdu ended before it was killed (exit %d):\n%s", p.cmd.ProcessState.ExitCode(), p.out)
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

func (p *bg) wait() proc {
	<-p.exited
	return proc{code: p.cmd.ProcessState.ExitCode(), out: p.out.String()}
}

// teamStatus is zdu status --format json.
func teamStatus(t *testing.T, k *killRun, h host, id, url string) (string, []summary.Outstanding) {
	t.Helper()
	r := k.zdu(h.env, "status", id, "--state", url, "--format", "json")
	var st struct {
		State        string
		OutOfService []summary.Outstanding
	}
	if err := json.Unmarshal([]byte(r.out), &st); err != nil || r.code != 0 {
		t.Fatalf("zdu status on host %s: exit %d, %v:\n%s", h.name, r.code, err, r.out)
	}
	return st.State, st.OutOfService
}

// refused runs the plan from host h, expecting the refusal naming run id.
func refused(t *testing.T, k *killRun, h host, url, id string, want ...string) {
	t.Helper()
	start := time.Now()
	r := k.zdu(h.env, "run", shippedPlan(k.kp.plan), "-i", k.m.Inventory, "--run-dir", h.runDir, "--state", url, "--log-format", "json")
	// A figure for the report, not a check: the machine may be loaded.
	t.Logf("host %s refused after %s (the whole process: start, load, compile, ask etcd)", h.name, time.Since(start).Round(time.Millisecond))
	if r.code != exitcode.Held {
		t.Fatalf("a run from host %s while run %s holds the nodes: exit %d, want %d:\n%s", h.name, id, r.code, exitcode.Held, r.out)
	}
	for _, w := range append([]string{"refused, nothing was changed", "run " + id, "started "}, want...) {
		if !strings.Contains(r.out, w) {
			t.Errorf("the refusal on host %s does not say %q:\n%s", h.name, w, r.out)
		}
	}
	if _, err := os.Stat(h.runDir); err == nil {
		t.Errorf("the refused run made %s", h.runDir)
	}
}

// TestTeamEtcd: three control hosts share a 3-member etcd cluster. Host A
// runs nova-api against a sandbox with live traffic and is killed with
// SIGKILL mid-node (node-1 drained, its health wait held). Host C is
// refused while A lives, and after A died (the run unfinished). Host B,
// with another home and run directory, sees the run in zdu status (node-1
// out of service), resumes it from etcd's record, and C is refused while
// B holds it; B completes it: every node on v2, none drained, the journal
// (A's events copied from etcd, then B's) passes the engine's checks, and
// the probe saw no failed request. History and report work from host C.
func TestTeamEtcd(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs a rollout against a sandbox and an etcd cluster")
	}
	lbtest.Need(t, loopback.HAProxyPath, "haproxy")
	c := etcdtest.Start(t, 3)
	url := c.URL("team", "lease=3s&timeout=2s")
	k := newKillRun(t, killPlans[0])
	a, b, hc := newHost(t, "a"), newHost(t, "b"), newHost(t, "c")
	hold, release := k.hold, k.release
	first, second := "node-1:"+sandbox.ServiceStart, "node-2:"+sandbox.ServiceStart
	hold(first)
	k.runDir = a.runDir
	pa := startZdu(t, a.env, "run", shippedPlan(k.kp.plan), "-i", k.m.Inventory, "--run-dir", a.runDir, "--state", url, "--log-format", "json")
	wait1 := "upgrade_api/node-1/" + k.kp.waitStep
	k.until(wait1+" waiting on host A", func() bool { return k.started(wait1) })
	id := k.events()[0].Run
	refused(t, k, hc, url, id, "still running", "pid ")
	pa.kill(t)
	k.until("the run to show as stopped on host B", func() bool {
		st, _ := teamStatus(t, k, b, id, url)
		return strings.HasPrefix(st, "stopped without ending")
	})
	_, out := teamStatus(t, k, b, id, url)
	if len(out) == 0 || out[0].Node != "node-1" || k.node("node-1").LB != "drain" {
		t.Errorf("host B's zdu status lists out of service %+v; HAProxy holds node-1 %q", out, k.node("node-1").LB)
	}
	refused(t, k, hc, url, id, "stopped without finishing", "zdu resume "+id, "zdu abandon "+id)
	// B resumes it; it waits in node-2's health wait meanwhile.
	hold(second)
	release(first)
	pb := startZdu(t, b.env, "resume", id, "--state", url, "--run-dir", b.runDir, "--log-format", "json")
	// Host C follows it live, through etcd's watch.
	pw := startZdu(t, hc.env, "status", id, "--state", url, "--watch", "--format", "json")
	k.runDir = b.runDir
	wait2 := "upgrade_api/node-2/" + k.kp.waitStep
	k.until(wait2+" waiting on host B", func() bool { return k.started(wait2) })
	refused(t, k, hc, url, id, "still running")
	release(second)
	last := pb.wait()
	watched := pw.wait()
	var lastSeen journal.Event
	lines := strings.Split(strings.TrimSpace(watched.out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &lastSeen); err != nil || watched.code != 0 ||
		lastSeen.Kind != journal.KindRun || lastSeen.State != journal.Passed || len(lines) < 50 {
		t.Errorf("zdu status --watch on host C: exit %d, %d lines, the last %q (%v)", watched.code, len(lines), lines[len(lines)-1], err)
	}
	// Host C reads the run's history and report from etcd.
	r := k.zdu(hc.env, "history", "--state", url, "--format", "json")
	var hist []pastRun
	if err := json.Unmarshal([]byte(r.out), &hist); err != nil || len(hist) != 1 || hist[0].ID != id || hist[0].Outcome != "SUCCESS" {
		t.Errorf("zdu history on host C: %v\n%s", err, r.out)
	}
	report := filepath.Join(hc.home, "report.html")
	if r := k.zdu(hc.env, "report", id, "--state", url, "-o", report); r.code != 0 {
		t.Errorf("zdu report on host C: exit %d\n%s", r.code, r.out)
	} else if b, err := os.ReadFile(report); err != nil || !bytes.Contains(b, []byte(id)) {
		t.Errorf("the report from host C: %v", err)
	}
	checkEtcdRecord(t, url, id, k.events())
	k.finish(last)
}

// checkEtcdRecord: etcd has the run's journal as the local one has it.
func checkEtcdRecord(t *testing.T, url, id string, local []journal.Event) {
	t.Helper()
	cfg, err := etcdstate.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	be, err := etcdstate.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	remote, err := be.Events(id)
	if err != nil {
		t.Fatal(err)
	}
	if len(remote) != len(local) {
		t.Fatalf("etcd has %d events of run %s, the local journal %d", len(remote), id, len(local))
	}
	logStoredSize(t, cfg, id)
	for i := range local {
		if remote[i].Seq != local[i].Seq || remote[i].Kind != local[i].Kind || remote[i].State != local[i].State || remote[i].Vertex != local[i].Vertex {
			t.Fatalf("event %d: etcd has %+v, the local journal %+v", i, remote[i], local[i])
		}
	}
}

// TestTeamEtcdFaults: one etcd member killed mid-run does not stop the
// run; every member stopped mid-run stops it before its next node, with
// the node in flight finished and none drained; once etcd is back the run
// resumes from its host's run directory (etcd's record brought up to date)
// and completes with no failed probe request.
func TestTeamEtcdFaults(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs a rollout against a sandbox and an etcd cluster")
	}
	lbtest.Need(t, loopback.HAProxyPath, "haproxy")
	c := etcdtest.Start(t, 3)
	// A lease and timeouts well above an election's length: one member
	// down (perhaps the leader) must not look like an outage.
	url := c.URL("faults", "lease=10s&timeout=2s")
	k := newKillRun(t, killPlans[0])
	a := newHost(t, "a")
	k.runDir = a.runDir
	hold, release := k.hold, k.release
	first, second := "node-1:"+sandbox.ServiceStart, "node-2:"+sandbox.ServiceStart
	hold(first)
	hold(second)
	// Host A names the cluster in the inventory's state: section, not with
	// --state (the run and its resumption use it).
	inv, err := os.ReadFile(k.m.Inventory)
	if err != nil {
		t.Fatal(err)
	}
	k.m.Inventory = filepath.Join(a.home, "inventory.yaml")
	if err := os.WriteFile(k.m.Inventory, fmt.Appendf(inv, "\nstate:\n  etcd: %q\n", url), 0o600); err != nil {
		t.Fatal(err)
	}
	pa := startZdu(t, a.env, "run", shippedPlan(k.kp.plan), "-i", k.m.Inventory, "--run-dir", a.runDir, "--log-format", "json")
	wait1 := "upgrade_api/node-1/" + k.kp.waitStep
	k.until(wait1+" waiting", func() bool { return k.started(wait1) })
	c.Kill(c.Members[0])
	release(first)
	wait2 := "upgrade_api/node-2/" + k.kp.waitStep
	k.until(wait2+" waiting, one etcd member down", func() bool { return k.started(wait2) })
	for _, m := range c.Members {
		c.Kill(m)
	}
	release(second)
	stopped := pa.wait()
	if stopped.code == 0 || !strings.Contains(stopped.out, "shared state") {
		t.Fatalf("the run with etcd gone: exit %d, want a stop naming the shared state:\n%s", stopped.code, stopped.out)
	}
	for _, n := range k.sandboxStatus() {
		if n.LB != "" && n.LB != "ready" {
			t.Errorf("with etcd gone the run left %s %s in HAProxy", n.Name, n.LB)
		}
	}
	if n := k.node("node-3"); n.Version != "v1" {
		t.Errorf("node-3 was upgraded (%s) with etcd gone", n.Version)
	}
	for _, m := range c.Members {
		c.Restart(m)
	}
	c.WaitHealthy()
	// The stopped run still holds its nodes in etcd: another run is
	// refused. Its lease outlives etcd's restart by up to its TTL; until
	// then the resumption is refused too, as still running.
	id := k.events()[0].Run
	refused(t, k, newHost(t, "c"), url, id)
	var last proc
	k.until("the run's lease to expire", func() bool {
		last = k.zdu(a.env, "resume", a.runDir, "--log-format", "json")
		return last.code != exitcode.Held
	})
	if last.code == 0 {
		checkEtcdRecord(t, url, id, k.events())
	}
	k.finish(last)
}

// lastLines are the last n lines of s that report no progress.
func lastLines(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.Contains(l, `"state":"progress"`) && !strings.Contains(l, `"state":"blocked"`) {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// logStoredSize logs what etcd holds of run id, by kind of key (the
// figures docs/team.md gives).
func logStoredSize(t *testing.T, cfg etcdstate.Config, id string) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: cfg.Endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, cfg.Prefix+"/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	sizes, counts := map[string]int{}, map[string]int{}
	total := 0
	for _, kv := range resp.Kvs {
		rest := strings.TrimPrefix(string(kv.Key), cfg.Prefix+"/")
		kind, _, _ := strings.Cut(rest, "/")
		if kind == "files" {
			kind = "files/" + filepath.Base(rest)
		}
		n := len(kv.Key) + len(kv.Value)
		sizes[kind] += n
		counts[kind]++
		total += n
	}
	var parts []string
	for kind, n := range sizes {
		parts = append(parts, fmt.Sprintf("%s: %d keys, %d bytes", kind, counts[kind], n))
	}
	sort.Strings(parts)
	t.Logf("etcd holds %d bytes (keys and values) for run %s: %s", total, id, strings.Join(parts, "; "))
}

// TestInventoryState: an inventory's state: section takes an etcd URL; a
// value that is not one is refused at its line, and credentials in it too.
func TestInventoryState(t *testing.T) {
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.yaml")
	os.WriteFile(plan, []byte("apiVersion: zdu/v1\nname: p\nphases:\n  - id: roll\n    targets: web\n    steps:\n      - {id: hi, type: ssh-exec, with: {command: \"true\"}}\n"), 0o600)
	for _, tc := range []struct {
		state string
		code  int
		want  string
	}{
		{state: "etcd://127.0.0.1:2379,127.0.0.2:2379/zdu/prod?lease=10s", code: exitOK},
		{state: "/var/lib/zdu", code: exitBadInput, want: "inv.yaml:4:9"},
		{state: "etcd://ops:pw@127.0.0.1:2379/zdu", code: exitBadInput, want: "inv.yaml:4:9"},
	} {
		inv := filepath.Join(dir, "inv.yaml")
		os.WriteFile(inv, []byte("apiVersion: zdu/v1\nnodes: [{name: web-1, groups: [web]}]\nstate:\n  etcd: "+tc.state+"\n"), 0o600)
		var out, errb bytes.Buffer
		code := dispatch(context.Background(), []string{"validate", plan, "-i", inv}, &out, &errb)
		if code != tc.code || !strings.Contains(out.String()+errb.String(), tc.want) {
			t.Errorf("state %s: exit %d, want %d with %q:\n%s%s", tc.state, code, tc.code, tc.want, out.String(), errb.String())
		}
	}
}

// TestStoredName: a file name from the shared state lands in the run
// directory or its loaded/ copies, never elsewhere.
func TestStoredName(t *testing.T) {
	for name, want := range map[string]bool{
		"run.json": true, "loaded/001-lb-drain.yaml": true,
		"../x": false, "loaded/../../x": false, "loaded/": false, "other/x": false,
		"loaded/a/b": false, "/etc/passwd": false, "..": false, "loaded/..": false,
	} {
		if got := storedName(name); got != want {
			t.Errorf("storedName(%q) = %v, want %v", name, got, want)
		}
	}
}
