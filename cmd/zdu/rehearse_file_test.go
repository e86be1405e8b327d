package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/zdu-dev/zdu/engine/sandbox"
	"github.com/zdu-dev/zdu/steps/lb/lbtest"
	"github.com/zdu-dev/zdu/steps/lb/loopback"
)

func rehearseData(name string) string { return filepath.Join("testdata", "rehearse", name) }

// TestRehearseStopsBeforeUncoveredCommands: a plan whose commands are not
// all covered by its rehearsal file is stopped before its first step, the
// uncovered commands listed (the node's and the local-exec one, a secret in
// one masked), and
// nothing on this machine changed: the files they would create do not
// exist.
func TestRehearseStopsBeforeUncoveredCommands(t *testing.T) {
	lbtest.Need(t, loopback.HAProxyPath, "haproxy")
	marker := filepath.Join(t.TempDir(), "created-by-the-plan")
	run := filepath.Join(t.TempDir(), "run")
	var stdout, stderr bytes.Buffer
	code := dispatch(context.Background(), []string{"rehearse", rehearseData("touch.yaml"), "--nodes", "1",
		"--set", "marker=" + marker, "--set", "token=s3cr3t-t0ken", "--run-dir", run, "--log-format", "json"}, &stdout, &stderr)
	if code != 2 {
		t.Fatalf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"phase work, node node-1, step touch, on the node: touch '" + marker + "'",
		"step local, on this machine (local-exec: only allow covers it): touch '" + marker + "'.local",
		"step notify, on the node: notify --token ****",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+stderr.String(), "s3cr3t") {
		t.Errorf("a secret is shown:\n%s\n%s", out, stderr.String())
	}
	if strings.Contains(out, "echo hello") {
		t.Errorf("the covered command is listed as uncovered:\n%s", out)
	}
	if !strings.Contains(stderr.String(), "3 command(s) of the plan have no stand-in") || !strings.Contains(stderr.String(), "touch.rehearsal.yaml") {
		t.Errorf("stderr does not say why, nor which file to edit:\n%s", stderr.String())
	}
	for _, f := range []string{marker, marker + ".local", filepath.Join(run, "journal.jsonl")} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists (%v): something ran", f, err)
		}
	}
}

// TestRehearseBadRehearsalFile: a mistake in the rehearsal file is named
// at FILE:LINE:COL and nothing starts.
func TestRehearseBadRehearsalFile(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(rehearseData("touch.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	plan := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(plan, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "p.rehearsal.yaml"), []byte("apiVersion: zdu/v1\nkind: Rehearsal\nstandins:\n  - command: x\n    effect: reboot\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := dispatch(context.Background(), []string{"rehearse", plan, "--set", "marker=x"}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stdout.String(), filepath.Join(dir, "p.rehearsal.yaml")+":5:13: standins[0].effect") {
		t.Errorf("exit %d, want 2 and the problem at its place:\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if strings.Contains(stderr.String(), "starting a sandbox") {
		t.Errorf("a sandbox was started:\n%s", stderr.String())
	}
}

// TestRehearseOtherPlans rehearses plans other than the shipped ones with
// only a rehearsal file beside them: a web service behind two HAProxy
// instances (the probe sending through both), and a database-style plan
// with no load balancer. Both end green on the new version.
func TestRehearseOtherPlans(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		plan, old, new string
		nodes          []string
		instances      int
		zeroLoss       bool
	}{
		{"web2lb", "1.4.2", "1.5.0", []string{"web-1", "web-2", "web-3"}, 2, true},
		// Without a load balancer a node's stop is downtime the probe (through
		// the sandbox's own HAProxy) may see: the plan has no budget for it.
		{"db", "16.3", "16.4", []string{"db-1", "db-2", "db-3"}, 1, false},
	} {
		t.Run(tc.plan, func(t *testing.T) {
			r := rehearse(t, rehearseData(tc.plan+".yaml"), "-i", rehearseData(tc.plan+".inventory.yaml"))
			if r.code != 0 || r.sum.Status != "SUCCESS" {
				t.Fatalf("rehearsal failed: %s", r)
			}
			for _, n := range tc.nodes {
				if r.versions[n] != tc.new {
					t.Errorf("%s answers %q at the end, want %s", n, r.versions[n], tc.new)
				}
			}
			if tc.zeroLoss {
				checkProbe(t, r, defaultRehearseRate)
				if r.sum.Probe.Failed != 0 {
					t.Errorf("probe counted %d failed requests, want 0: %v", r.sum.Probe.Failed, r.sum.Probe.Failures)
				}
				checkRolling(t, r, tc.nodes, tc.old, tc.new)
			}
			if got := lbInstances(t, r); got != tc.instances {
				t.Errorf("the sandbox ran %d load balancer instance(s), want %d", got, tc.instances)
			}
		})
	}
}

// lbInstances counts the instances of the sandbox inventory's load balancer.
func lbInstances(t *testing.T, r rehearsal) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dir, "sandbox-inventory.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var inv struct {
		LoadBalancers map[string]struct {
			Driver    string
			Instances []map[string]string
		} `yaml:"loadBalancers"`
	}
	if err := yaml.Unmarshal(b, &inv); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range inv.LoadBalancers {
		n += len(l.Instances)
	}
	return n
}

// TestRehearseHealthFailureRollsBack injects a health failure on web-2:
// once it runs the new version its health path answers 503, the plan's
// health wait fails, its rollback puts the old version back, and the
// summary shows the failure and the rollback. No request is lost.
func TestRehearseHealthFailureRollsBack(t *testing.T) {
	t.Parallel()
	r := rehearse(t, rehearseData("web2lb.yaml"), "-i", rehearseData("web2lb.inventory.yaml"),
		"--fail", "web-2:health", "--set", "health_timeout=5s")
	if r.code != 20 || r.sum.Status != "UPGRADE_FAILED" {
		t.Fatalf("exit %d status %s, want 20 UPGRADE_FAILED: %s", r.code, r.sum.Status, r)
	}
	cells := cellsOf(r.sum)
	if !strings.HasPrefix(cells["web-2"]["upgrade"], "FAILED") || cells["web-2"]["rollback"] != "PASSED (0)" ||
		cells["web-1"]["upgrade"] != "PASSED (0)" || cells["web-3"]["upgrade"] != "*" {
		t.Errorf("summary cells = %v; want web-2 failed and rolled back, web-1 passed, web-3 untouched", cells)
	}
	want := map[string]string{"web-1": "1.5.0", "web-2": "1.4.2", "web-3": "1.4.2"}
	for n, v := range want {
		if r.versions[n] != v {
			t.Errorf("%s answers %q, want %s", n, r.versions[n], v)
		}
	}
	if !slices.Equal(r.injected, []injectedFailure{{Node: "web-2", Step: "health", Fault: "health", Fired: true}}) {
		t.Errorf("rehearsal.json injected failures = %+v", r.injected)
	}
	if !strings.Contains(r.stdout, `status 503 (want 200): "unhealthy"`) {
		t.Errorf("the summary does not show the health check failing:\n%s", r.stdout)
	}
	if r.sum.Probe.Failed != 0 {
		t.Errorf("probe counted %d failed requests, want 0: %v", r.sum.Probe.Failed, r.sum.Probe.Failures)
	}
}

// TestRehearseReportsStoppedNode: a node whose service does not start
// again is reported stopped, not as running the version it last had.
func TestRehearseReportsStoppedNode(t *testing.T) {
	r := rehearse(t, rehearseData("db.yaml"), "-i", rehearseData("db.inventory.yaml"), "--fail", "db-2:systemctl-start")
	if r.code != 30 {
		t.Fatalf("exit %d, want 30 (the replicas' phase failed): %s", r.code, r)
	}
	if r.versions["db-2"] != "" || r.states["db-2"] != "stopped" || r.states["db-1"] != "running" || r.versions["db-1"] != "16.3" {
		t.Errorf("versions %v states %v; want db-2 stopped with no version, db-1 running 16.3", r.versions, r.states)
	}
	if !strings.Contains(r.stdout, "db-2 stopped") {
		t.Errorf("the last line does not show db-2 stopped:\n%s", tail(r.stdout, 400))
	}
}

// TestRehearseKeycloakBehindNginx rehearses the shipped keycloak plan with
// its inventory: the sandbox runs nginx for real (upstream edits, test and
// reload through the LB host), and no request is lost. It takes minutes:
// the plan waits 30s per drain (nginx cannot see open requests) and 30s
// after its canary.
func TestRehearseKeycloakBehindNginx(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("the keycloak plan's drain times make this rehearsal take minutes")
	}
	lbtest.Need(t, loopback.NginxPath, "nginx")
	r := rehearse(t, filepath.Join("..", "..", "plans", "keycloak.yaml"), "-i", filepath.Join("..", "..", "plans", "keycloak.inventory.yaml"))
	if r.code != 0 || r.sum.Status != "SUCCESS" {
		t.Fatalf("rehearsal failed: %s", r)
	}
	nodes := []string{"kc-1", "kc-2", "kc-3"}
	for _, n := range nodes {
		if r.versions[n] != "26.1.4-1" {
			t.Errorf("%s answers %q, want 26.1.4-1", n, r.versions[n])
		}
	}
	checkProbe(t, r, defaultRehearseRate)
	if r.sum.Probe.Failed != 0 {
		t.Errorf("probe counted %d failed requests, want 0: %v", r.sum.Probe.Failed, r.sum.Probe.Failures)
	}
	checkRolling(t, r, nodes, "26.0.8-1", "26.1.4-1")
	b, err := os.ReadFile(filepath.Join(r.dir, "sandbox-inventory.yaml"))
	if err != nil || !strings.Contains(string(b), "driver: nginx") || !strings.Contains(string(b), "upstream:") {
		t.Errorf("the sandbox's load balancer is not nginx (%v):\n%s", err, b)
	}
}

// copyRehearsal writes the rehearsal file of plan beside its copy in dir,
// with the allow patterns added.
func copyRehearsal(t *testing.T, plan, dir string, allow ...string) {
	t.Helper()
	b, err := os.ReadFile(sandbox.RehearsalFile(plan))
	if err != nil {
		t.Fatal(err)
	}
	if len(allow) > 0 {
		b = append(b, "allow:\n"...)
		for _, a := range allow {
			b = append(b, "  - "+strconv.Quote(a)+"\n"...)
		}
	}
	if err := os.WriteFile(sandbox.RehearsalFile(filepath.Join(dir, filepath.Base(plan))), b, 0o600); err != nil {
		t.Fatal(err)
	}
}
