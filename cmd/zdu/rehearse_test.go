package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/probe"
	"github.com/zdu-dev/zdu/engine/summary"
	"github.com/zdu-dev/zdu/steps/lb/lbtest"
	"github.com/zdu-dev/zdu/steps/lb/loopback"
)

// rehearsal is what one `zdu rehearse` left behind.
type rehearsal struct {
	dir      string // the run directory
	code     int
	stdout   string
	stderr   string
	sum      summary.Summary
	versions map[string]string
	states   map[string]string           // running, unhealthy or stopped
	served   map[string]map[string]int64 // node -> version -> requests through HAProxy
	injected []injectedFailure
}

// rehearse runs `zdu rehearse` in this process and reads its run directory.
func rehearse(t *testing.T, args ...string) rehearsal {
	t.Helper()
	lbtest.Need(t, loopback.HAProxyPath, "haproxy")
	dir := filepath.Join(t.TempDir(), "run")
	var stdout, stderr bytes.Buffer
	// A request fails on an error, not because a loaded machine took more
	// than the default 2s to answer it: latency is a figure, not a failure.
	code := dispatch(context.Background(), append(append([]string{"rehearse"}, args...),
		"--run-dir", dir, "--log-format", "json", "--probe-timeout", "30s"), &stdout, &stderr)
	r := rehearsal{dir: dir, code: code, stdout: stdout.String(), stderr: stderr.String(), versions: map[string]string{}, states: map[string]string{},
		served: map[string]map[string]int64{}}
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatalf("exit %d, no summary: %v\nstdout:\n%s\nstderr:\n%s", code, err, r.stdout, r.stderr)
	}
	if err := json.Unmarshal(b, &r.sum); err != nil {
		t.Fatal(err)
	}
	var reh struct {
		Nodes []struct {
			Name, Version, State string
			Served               map[string]int64
		}
		Injected []injectedFailure `json:"injected_failures"`
	}
	b, err = os.ReadFile(filepath.Join(dir, "rehearsal.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &reh); err != nil {
		t.Fatal(err)
	}
	for _, n := range reh.Nodes {
		r.versions[n.Name] = n.Version
		r.states[n.Name] = n.State
		r.served[n.Name] = n.Served
	}
	r.injected = reh.Injected
	if r.sum.Probe == nil {
		t.Fatalf("summary.json has no probe figures:\n%s", r.stdout)
	}
	checkTornDown(t, filepath.Join(dir, "sandbox-inventory.yaml"))
	return r
}

// checkTornDown asserts the sandbox the inventory describes is gone: its
// directory removed and no process (HAProxy, a stand-in daemon) running
// from it.
func checkTornDown(t *testing.T, inventory string) {
	t.Helper()
	b, err := os.ReadFile(inventory)
	if err != nil {
		t.Fatal(err)
	}
	var inv struct {
		SSH struct {
			KnownHosts []string `yaml:"knownHosts"`
		} `yaml:"ssh"`
	}
	if err := yaml.Unmarshal(b, &inv); err != nil || len(inv.SSH.KnownHosts) != 1 {
		t.Fatalf("sandbox inventory: %v\n%s", err, b)
	}
	sandboxDir := filepath.Dir(inv.SSH.KnownHosts[0])
	if _, err := os.Stat(sandboxDir); !os.IsNotExist(err) {
		t.Errorf("the sandbox directory %s is still there (%v)", sandboxDir, err)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		cmd, err := os.ReadFile(p)
		if err == nil && bytes.Contains(cmd, []byte(sandboxDir)) {
			t.Errorf("a process still runs from the sandbox: %s: %q", p, bytes.ReplaceAll(cmd, []byte{0}, []byte{' '}))
		}
	}
}

func (r rehearsal) String() string {
	return "exit " + strconv.Itoa(r.code) + "\nstdout:\n" + r.stdout + "\nstderr (tail):\n" + tail(r.stderr, 3000)
}

// checkProbe asserts the probe ran at the rate asked and that its counts
// agree with the services': every request it counted as answered was
// answered by one node, through HAProxy, and so was Ping's one before the
// run. (The rate it achieved is a figure: .bench/rehearse/run.sh.)
func checkProbe(t *testing.T, r rehearsal, rate float64) {
	t.Helper()
	p := r.sum.Probe
	if p.RateRPS != rate {
		t.Errorf("probe rate = %g, want %g", p.RateRPS, rate)
	}
	var served int64
	for _, byVersion := range r.served {
		for _, n := range byVersion {
			served += n
		}
	}
	answered := p.Requests - p.Failed + 1 // Ping's
	if served < answered || (p.Failed == 0 && served != answered) {
		t.Errorf("the nodes answered %d requests through HAProxy; the probe counted %d answered (%d requests, %d failed) and Ping 1",
			served, answered-1, p.Requests, p.Failed)
	}
}

// checkRolling asserts the probe's traffic went on through the rolling
// upgrade of nodes, in that order: every node but the first answered it at
// old before its turn (while the ones before it were upgraded), every one
// but the last at new after its turn (while the ones after it were). A
// whole node's turn lies between each pair, so no timing is assumed.
func checkRolling(t *testing.T, r rehearsal, nodes []string, old, new string) {
	t.Helper()
	for i, n := range nodes {
		if i > 0 && r.served[n][old] == 0 {
			t.Errorf("%s answered no request at %s, before its turn: %v", n, old, r.served)
		}
		if i < len(nodes)-1 && r.served[n][new] == 0 {
			t.Errorf("%s answered no request at %s, after its turn: %v", n, new, r.served)
		}
	}
}

// TestRehearseNovaZeroDowntime rehearses the shipped nova plan on 3 API
// nodes with the probe at 250 requests/s through HAProxy: every API node
// ends on the new version, the probe's traffic goes on through each node's
// turn, and not one request fails. Then the same plan without its drain
// steps: the probe sees the restarts, and the plan's error budget fails it.
func TestRehearseNovaZeroDowntime(t *testing.T) {
	t.Parallel()
	plan := filepath.Join("..", "..", "plans", "nova-api.yaml")
	r := rehearse(t, plan, "--nodes", "3", "--rate", "250")
	if r.code != 0 || r.sum.Status != "SUCCESS" {
		t.Fatalf("rehearsal failed: %s", r)
	}
	checkProbe(t, r, 250)
	if r.sum.Probe.Failed != 0 {
		t.Errorf("probe counted %d failed requests, want 0: %v", r.sum.Probe.Failed, r.sum.Probe.Failures)
	}
	checkRolling(t, r, []string{"node-1", "node-2", "node-3"}, "v1", "v2")
	for _, n := range []string{"node-1", "node-2", "node-3"} {
		if r.versions[n] != "v2" {
			t.Errorf("API node %s runs %q, want v2 (%v)", n, r.versions[n], r.versions)
		}
	}
	if len(r.versions) != 4 {
		t.Errorf("sandbox nodes = %v, want 3 API nodes and the controller", r.versions)
	}
	for _, want := range []string{"MULTI-NODE ZERO DOWN-TIME UPGRADE SUMMARY", "Availability probe", "failed 0", "error budget met"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if len(r.sum.Probe.LB) != 1 || r.sum.Probe.LB[0].Counters["hrsp_5xx"] != 0 || r.sum.Probe.LB[0].Error != "" {
		t.Errorf("HAProxy's counters = %+v, want one backend with no 5xx", r.sum.Probe.LB)
	}

	if r.sum.Gate != nil || len(r.sum.Canaries) != 1 || r.sum.Canaries[0].State != journal.Passed || r.sum.Baseline == nil {
		t.Errorf("a good version: gate %+v, canaries %+v, baseline %v; want no gate fired, the canary passed, a baseline", r.sum.Gate, r.sum.Canaries, r.sum.Baseline)
	}

	t.Run("without drain", func(t *testing.T) {
		// The gates would stop the rollout at the canary (see
		// TestGatesStopABadCanary): without them, the error budget judges
		// the whole run.
		copyPlan := withoutSteps(t, plan, "lb-drain", "gates", "canary")
		r := rehearse(t, copyPlan, "--nodes", "3", "--rate", "250")
		checkProbe(t, r, 250)
		if r.sum.Probe.Failed == 0 {
			t.Fatalf("without drain the probe counted no failed request: %s", r)
		}
		if r.code != 81 || r.sum.Status != "ERROR_BUDGET_EXCEEDED" || r.sum.Probe.Breach == "" {
			t.Errorf("exceeded budget: exit %d status %s breach %q, want 81 ERROR_BUDGET_EXCEEDED", r.code, r.sum.Status, r.sum.Probe.Breach)
		}
		if c := r.sum.Probe.LB[0].Counters; c["hrsp_5xx"] == 0 {
			t.Errorf("HAProxy counted no 5xx without drain: %v", c)
		}
		// Each restarted node's outage, told apart by the server that
		// answered: round-robin successes from the others do not cut it
		// short, as they cut the probe's overall failure window.
		byServer := map[string]probe.ServerFigures{}
		for _, s := range r.sum.Probe.Servers {
			byServer[s.Server] = s
		}
		// A node's restart is seen only if a request reached it between its
		// stop and HAProxy's check marking it down: on a loaded machine one
		// may be missed. Every node seen failing has its outage windows.
		longer := false
		for _, n := range []string{"node-1", "node-2", "node-3"} {
			s := byServer[n]
			if s.Requests == 0 {
				t.Errorf("no answer attributed to server %s: %+v", n, r.sum.Probe.Servers)
			}
			if s.Failed > 0 && (len(s.Outages) == 0 || s.LongestFailureMS < r.sum.Probe.LongestFailureMS) {
				t.Errorf("server %s: %+v; want its outages, none shorter than the overall window (%g ms)", n, s, r.sum.Probe.LongestFailureMS)
			}
			longer = longer || s.LongestFailureMS > r.sum.Probe.LongestFailureMS
			t.Logf("%s: failed %d of %d, longest outage %.0f ms (overall window %.0f ms)", n, s.Failed, s.Requests, s.LongestFailureMS, r.sum.Probe.LongestFailureMS)
		}
		if !longer {
			t.Errorf("no server's outage is longer than the overall failure window: the attribution shows nothing more")
		}
		if !strings.Contains(r.stdout, "by server (X-Served-By)") {
			t.Errorf("the summary does not show the outages by server:\n%s", r.stdout)
		}
		for _, n := range []string{"node-1", "node-2", "node-3"} {
			if r.versions[n] != "v2" {
				t.Errorf("API node %s runs %q, want v2", n, r.versions[n])
			}
		}
	})
}

// TestRehearseAxwayReferenceTopology rehearses the shipped Axway plan on
// the seed's reference topology (the example inventory): all passed; then
// with apply failing on Node-B: the nodes changed so far are rolled back,
// exit 73, and still no request fails.
func TestRehearseAxwayReferenceTopology(t *testing.T) {
	t.Parallel()
	plan := filepath.Join("..", "..", "plans", "axway-7.7.yaml")
	inv := filepath.Join("..", "..", "plans", "axway-7.7.inventory.yaml")
	nodes := []string{"Node-A", "Node-B", "Node-C"}
	phases := []string{"export", "upgrade", "pre_apply", "apply", "post_apply"}

	r := rehearse(t, plan, "-i", inv)
	if r.code != 0 || r.sum.Status != "SUCCESS" {
		t.Fatalf("rehearsal failed: %s", r)
	}
	checkProbe(t, r, defaultRehearseRate)
	if r.sum.Probe.Failed != 0 {
		t.Errorf("probe counted %d failed requests, want 0: %v", r.sum.Probe.Failed, r.sum.Probe.Failures)
	}
	checkRolling(t, r, nodes, "v1", "v2")
	cells := cellsOf(r.sum)
	for _, n := range nodes {
		for _, ph := range phases {
			if c := cells[n][ph]; c != "PASSED (0)" {
				t.Errorf("%s %s = %q, want PASSED (0)", n, ph, c)
			}
		}
		if r.versions[n] != "v2" {
			t.Errorf("%s runs %q, want v2", n, r.versions[n])
		}
	}
	if _, ok := r.versions["lb"]; ok {
		t.Errorf("the inventory's load balancer host became a sandbox node: %v", r.versions)
	}

	t.Run("apply fails on Node-B", func(t *testing.T) {
		// Node-C:restart never fires: the Axway plan calls no systemctl.
		r := rehearse(t, plan, "-i", inv, "--fail", "Node-B:apply", "--fail", "Node-C:restart")
		if r.code != 73 || r.sum.Status != "APPLY_FAILED" {
			t.Fatalf("exit %d status %s, want 73 APPLY_FAILED: %s", r.code, r.sum.Status, r)
		}
		cells := cellsOf(r.sum)
		want := map[string][2]string{ // apply, rollback
			"Node-A": {"PASSED (0)", "PASSED (0)"},
			"Node-B": {"FAILED (", "PASSED (0)"},
			"Node-C": {"*", "*"},
		}
		for n, w := range want {
			if !strings.HasPrefix(cells[n]["apply"], w[0]) || cells[n]["rollback"] != w[1] || w[0] == "*" && cells[n]["apply"] != "*" {
				t.Errorf("%s: apply %q rollback %q, want %q and %q", n, cells[n]["apply"], cells[n]["rollback"], w[0], w[1])
			}
			if r.versions[n] != "v1" {
				t.Errorf("%s runs %q after the rollback, want v1", n, r.versions[n])
			}
		}
		if r.sum.Probe.Failed != 0 {
			t.Errorf("probe counted %d failed requests through the failure and rollback, want 0: %v", r.sum.Probe.Failed, r.sum.Probe.Failures)
		}
		checkProbe(t, r, defaultRehearseRate)
		// Node-A served the new version between its apply and its rollback;
		// Node-B never started it, and Node-C was never upgraded.
		if r.served["Node-A"]["v2"] == 0 || r.served["Node-B"]["v2"] != 0 || r.served["Node-C"]["v2"] != 0 || r.served["Node-C"]["v1"] == 0 {
			t.Errorf("requests answered through HAProxy by node and version = %v; want v2 from Node-A only", r.served)
		}
		wantInjected := []injectedFailure{{Node: "Node-B", Step: "apply", ExitCode: 1, Fired: true}, {Node: "Node-C", Step: "restart", ExitCode: 1}}
		if !slices.Equal(r.injected, wantInjected) {
			t.Errorf("rehearsal.json injected failures = %+v, want %+v", r.injected, wantInjected)
		}
		if !strings.Contains(r.stderr, "--fail Node-C:restart never fired") || strings.Contains(r.stderr, "Node-B:apply never fired") {
			t.Errorf("stderr does not warn of exactly the failure that never fired:\n%s", tail(r.stderr, 2000))
		}
		if !strings.Contains(r.stdout, "| Node-B ") || !strings.Contains(r.stdout, "ROLLBACK") {
			t.Errorf("the table lacks Node-B or ROLLBACK:\n%s", r.stdout)
		}
	})
}

// cellsOf maps node -> phase id (and "rollback") -> the table's cell.
func cellsOf(s summary.Summary) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, n := range s.Nodes {
		m := map[string]string{"rollback": n.Rollback.String()}
		for _, ph := range s.Phases {
			m[ph.ID] = n.Phases[ph.ID].String() // "*" when not run
		}
		out[n.Name] = m
	}
	return out
}

// withoutSteps copies plan into a temp dir with every step of type typ
// removed from its phases and rollbacks, and the mapping keys named in
// dropKeys (gates, canary) wherever they are.
func withoutSteps(t *testing.T, plan, typ string, dropKeys ...string) string {
	t.Helper()
	doc := readPlanDoc(t, plan)
	removed := 0
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			kept := n.Content[:0]
			for i := 0; i+1 < len(n.Content); i += 2 {
				if slices.Contains(dropKeys, n.Content[i].Value) {
					continue
				}
				kept = append(kept, n.Content[i], n.Content[i+1])
			}
			n.Content = kept
		}
		if n.Kind == yaml.SequenceNode {
			kept := n.Content[:0]
			for _, item := range n.Content {
				if stepType(item) == typ {
					removed++
					continue
				}
				kept = append(kept, item)
			}
			n.Content = kept
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(doc)
	if removed == 0 {
		t.Fatalf("%s has no %s step", plan, typ)
	}
	return writePlanCopy(t, plan, doc)
}

// readPlanDoc is plan's YAML document, to edit before writePlanCopy.
func readPlanDoc(t *testing.T, plan string) *yaml.Node {
	t.Helper()
	b, err := os.ReadFile(plan)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return &doc
}

// writePlanCopy writes doc as plan's copy in a temporary directory, next
// to the plan library and plan's rehearsal file, and returns its path.
func writePlanCopy(t *testing.T, plan string, doc *yaml.Node) string {
	t.Helper()
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	linkLibrary(t, dir)
	copyRehearsal(t, plan, dir)
	p := filepath.Join(dir, filepath.Base(plan))
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// stepType is a step's type; for a use of a library template named after
// its step type (lib/lb-drain.yaml), that type.
func stepType(n *yaml.Node) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch k, v := n.Content[i].Value, n.Content[i+1].Value; k {
		case "type":
			return v
		case "uses":
			return strings.TrimSuffix(filepath.Base(v), ".yaml")
		}
	}
	return ""
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// TestRehearseSIGINTMidRun interrupts a rehearsal once node-1 is drained:
// the run stops gracefully (exit 130), node-1 is put back by compensation,
// no request fails, and the sandbox is torn down all the same.
func TestRehearseSIGINTMidRun(t *testing.T) {
	lbtest.Need(t, loopback.HAProxyPath, "haproxy")
	dir := filepath.Join(t.TempDir(), "run")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- dispatch(ctx, []string{"rehearse", filepath.Join("..", "..", "plans", "nova-api.yaml"),
			"--run-dir", dir, "--log-format", "json", "--stop-grace", "10s"}, &stdout, &stderr)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !drained(filepath.Join(dir, "journal.jsonl"), "node-1") {
		select {
		case code := <-done:
			t.Fatalf("rehearsal ended (exit %d) before node-1 was drained:\n%s", code, stdout.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("node-1 was never drained")
		}
		time.Sleep(10 * time.Millisecond)
	}
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	var code int
	select {
	case code = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the rehearsal did not stop after SIGINT")
	}
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s summary.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if code != 130 || s.Status != "INTERRUPTED" {
		t.Errorf("exit %d status %s, want 130 INTERRUPTED:\n%s", code, s.Status, stdout.String())
	}
	var notes []string
	for _, n := range s.Nodes {
		if n.Name == "node-1" {
			notes = n.Notes
		}
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "(compensation)") {
		t.Errorf("node-1 notes = %q, want it put back by compensation", notes)
	}
	if s.Probe == nil || s.Probe.Failed != 0 || s.Probe.Requests == 0 {
		t.Errorf("probe = %+v, want requests and none failed", s.Probe)
	}
	checkTornDown(t, filepath.Join(dir, "sandbox-inventory.yaml"))
}

// drained reports whether the journal shows node's drain step passed.
func drained(journal, node string) bool {
	b, err := os.ReadFile(journal)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		var e struct{ Kind, State, Node, Step string }
		if json.Unmarshal([]byte(line), &e) == nil && e.Kind == "step" && e.State == "passed" && e.Node == node && e.Step == "drain.drain" {
			return true
		}
	}
	return false
}
