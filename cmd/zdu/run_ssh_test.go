package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/steps/transport/ssh/sshtest"
)

const sshPlan = `apiVersion: zdu/v1
name: ssh-rolling
params:
  dir: {type: string, required: true}
phases:
  - id: prepare
    targets: all
    exitCode: 70
    steps:
      - id: mkdir
        type: ssh-exec
        with: {command: "mkdir -p ${{ params.dir }}/${{ node.name }}"}
  - id: upgrade
    targets: all
    exitCode: 71
    steps:
      - id: where
        type: ssh-exec
        register: where
        with: {command: "echo \"$SSH_CONNECTION\""}
      - id: mark
        type: ssh-exec
        with: {command: "echo ${{ results.where.stdout }} > ${{ params.dir }}/${{ node.name }}/upgraded"}
`

// startNodes starts n real OpenSSH servers that all accept the first one's
// client key, and writes an inventory for them.
func startNodes(t *testing.T, n int, knownHosts bool) (inv string, servers []*sshtest.Server) {
	t.Helper()
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		t.Skip("needs OpenSSH's sshd (apt-get install openssh-server)")
	}
	var b strings.Builder
	var kh strings.Builder
	for i := 0; i < n; i++ {
		s := sshtest.Start(t)
		servers = append(servers, s)
		if i > 0 {
			if err := s.Authorize(servers[0].ClientKey.Public); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Fprintf(&b, "  - {name: node-%d, host: %s, port: %d, user: %s}\n", i+1, s.Host, s.Port, s.User)
		kh.WriteString(s.KnownHostsLine() + "\n")
	}
	dir := t.TempDir()
	khFile := filepath.Join(dir, "known_hosts")
	if !knownHosts {
		kh.Reset()
	}
	if err := os.WriteFile(khFile, []byte(kh.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	inv = filepath.Join(dir, "inventory.yaml")
	doc := fmt.Sprintf("apiVersion: zdu/v1\nkind: Inventory\nssh:\n  knownHosts: [%s]\n  identityFiles: [%s]\n  config: none\n  connectTimeout: 5s\nnodes:\n%s",
		khFile, servers[0].ClientKeyFile(), b.String())
	if err := os.WriteFile(inv, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return inv, servers
}

// TestRunOverSSH runs a plan through `zdu run` against three real sshd nodes:
// every node is reached over SSH (SSH_CONNECTION is set), a path with a space
// works, and the run directory holds the summary and node logs.
func TestRunOverSSH(t *testing.T) {
	inv, _ := startNodes(t, 3, true)
	plan := filepath.Join(t.TempDir(), "plan.yaml")
	os.WriteFile(plan, []byte(sshPlan), 0o600)
	// The nodes' user is not root: give it a directory it may write.
	base, err := os.MkdirTemp("", "zdu-ssh-run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o777)
	work := filepath.Join(base, "with space")
	runDir := filepath.Join(t.TempDir(), "run")
	var out, errb bytes.Buffer
	code := dispatch(context.Background(), []string{"run", plan, "-i", inv, "--set", "dir=" + work,
		"--run-dir", runDir, "--log-format", "json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	for i := 1; i <= 3; i++ {
		b, err := os.ReadFile(filepath.Join(work, fmt.Sprintf("node-%d", i), "upgraded"))
		if err != nil {
			t.Fatalf("node-%d was not upgraded: %v", i, err)
		}
		if !strings.HasPrefix(string(b), "127.0.0.1 ") {
			t.Errorf("node-%d: SSH_CONNECTION = %q, want a loopback SSH connection", i, b)
		}
	}
	if !strings.Contains(out.String(), "Summary table (Status.SUCCESS)") || strings.Count(out.String(), "PASSED (0)") != 6 {
		t.Errorf("summary:\n%s", out.String())
	}
	log, _ := os.ReadFile(filepath.Join(runDir, "nodes", "node-2.log"))
	if !strings.Contains(string(log), "########## MARK ##########") || !strings.Contains(string(log), "with space") {
		t.Errorf("node log:\n%s", log)
	}
	// run.json says which file is whose log.
	var rec struct {
		NodeLogs map[string]string `json:"nodeLogs"`
	}
	b, _ := os.ReadFile(filepath.Join(runDir, "run.json"))
	if err := json.Unmarshal(b, &rec); err != nil || len(rec.NodeLogs) != 3 || rec.NodeLogs["node-2"] != "nodes/node-2.log" {
		t.Errorf("run.json nodeLogs = %v (%v), want each node's log", rec.NodeLogs, err)
	}
}

// TestRunRefusesUnknownHostKeys: with an empty known_hosts, preflight fails
// for every node at once, exit 80, and nothing runs; the run directory
// says why (journal, summary, run.json).
func TestRunRefusesUnknownHostKeys(t *testing.T) {
	inv, _ := startNodes(t, 2, false)
	plan := filepath.Join(t.TempDir(), "plan.yaml")
	os.WriteFile(plan, []byte(sshPlan), 0o600)
	work := filepath.Join(t.TempDir(), "w")
	var out, errb bytes.Buffer
	runDir := filepath.Join(t.TempDir(), "run")
	code := dispatch(context.Background(), []string{"run", plan, "-i", inv, "--set", "dir=" + work,
		"--run-dir", runDir}, &out, &errb)
	if code != exitFatal {
		t.Fatalf("exit %d, want %d\n%s", code, exitFatal, errb.String())
	}
	// The run directory says why the run did not start.
	sum, err := os.ReadFile(filepath.Join(runDir, "summary.json"))
	if err != nil || !strings.Contains(string(sum), `"status": "PREFLIGHT_FAILED"`) {
		t.Errorf("a failed preflight left no summary saying so: %v\n%s", err, sum)
	}
	rec, err := os.ReadFile(filepath.Join(runDir, "run.json"))
	if err != nil || !strings.Contains(string(rec), `"status": "PREFLIGHT_FAILED"`) || !strings.Contains(string(rec), `"ended"`) {
		t.Errorf("run.json does not record the end: %v\n%s", err, rec)
	}
	ev := readJournal(t, filepath.Join(runDir, "journal.jsonl"))
	if len(ev) != 1 || ev[0].State != "failed" || !strings.Contains(ev[0].Error, "node-1") || !strings.Contains(ev[0].Error, "node-2") {
		t.Errorf("the journal does not say why, naming the nodes: %+v", ev)
	}
	for _, n := range []string{"node-1", "node-2"} {
		if !strings.Contains(errb.String(), n) {
			t.Errorf("preflight must name %s:\n%s", n, errb.String())
		}
	}
	if _, err := os.Stat(work); err == nil {
		t.Error("a command ran although preflight failed")
	}
}
