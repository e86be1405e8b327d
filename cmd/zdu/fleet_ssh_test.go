package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/steps/transport/ssh/sshtest"
)

const fleetPlan = `apiVersion: zdu/v1
name: fleet
params:
  dir: {type: string}
  port: {type: string}
phases:
  - id: roll
    targets: all
    strategy: {parallel: 8}
    exitCode: 71
    steps:
      - id: count
        type: ssh-exec
        with: {command: "ss -Htn state established '( sport = :${{ params.port }} )' | wc -l > ${{ params.dir }}/${{ node.name }}"}
      - id: work
        type: ssh-exec
        with: {command: "true"}
`

// Twenty nodes behind one real sshd that drops every unauthenticated
// connection over two (MaxStartups 2:100:2), dialled 8 at a time: the
// handshakes it drops are retried and the run passes; the connections open
// at once stay within --max-connections, by the pool's own count and by
// sshd's (ss, from each step, counting the established connections to it).
// The phase runs 8 nodes at once, more than the 5 connections: a node keeps
// its connection from its first step to its last, so each node is dialed
// once for the preflight and once for its turn.
func TestRunFleetThroughMaxStartups(t *testing.T) {
	if _, err := os.Stat("/usr/bin/ss"); err != nil {
		t.Skip("needs ss (iproute2)")
	}
	srv := sshtest.Start(t, sshtest.WithConfig("MaxStartups 2:100:2"))
	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	os.WriteFile(kh, []byte(srv.KnownHostsLine()+"\n"), 0o600)
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: zdu/v1\nkind: Inventory\nssh:\n  knownHosts: [%s]\n  identityFiles: [%s]\n  config: none\n  connectTimeout: 30s\nnodes:\n",
		kh, srv.ClientKeyFile())
	const nodes, maxConns = 20, 5
	for i := 1; i <= nodes; i++ {
		fmt.Fprintf(&b, "  - {name: node-%02d, host: %s, port: %d, user: %s}\n", i, srv.Host, srv.Port, srv.User)
	}
	inv := filepath.Join(dir, "inventory.yaml")
	os.WriteFile(inv, []byte(b.String()), 0o600)
	plan := filepath.Join(dir, "plan.yaml")
	os.WriteFile(plan, []byte(fleetPlan), 0o600)
	base, err := os.MkdirTemp("", "zdu-fleet-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o777)

	var out, errb bytes.Buffer
	code := dispatch(context.Background(), []string{"run", plan, "-i", inv, "--set", "dir=" + base,
		"--set", "port=" + strconv.Itoa(srv.Port), "--run-dir", filepath.Join(dir, "run"), "--log-format", "json",
		"--max-dials", "8", "--max-connections", strconv.Itoa(maxConns)}, &out, &errb)
	all := out.String() + errb.String()
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, all)
	}
	t.Log(regexp.MustCompile(`zdu run: connections: .*`).FindString(all))
	m := regexp.MustCompile(`connections: (\d+) dials \((\d+) handshakes refused before the banner and retried, (\d+) failed\), at most (\d+) open at once \(--max-connections (\d+)\)`).
		FindStringSubmatch(all)
	if m == nil {
		t.Fatalf("no connection report:\n%s", all)
	}
	dials, _ := strconv.Atoi(m[1])
	refused, _ := strconv.Atoi(m[2])
	peak, _ := strconv.Atoi(m[4])
	stalled := 0
	if s := regexp.MustCompile(`; (\d+) closed in the middle of a phase`).FindStringSubmatch(all); s != nil {
		stalled, _ = strconv.Atoi(s[1])
	}
	if dials < nodes || dials > 2*nodes+stalled || m[3] != "0" || m[5] != strconv.Itoa(maxConns) {
		t.Errorf("connection report %q: want %d to %d dials (a preflight and a turn each, %d stalled), none failed, the cap %d",
			m[0], nodes, 2*nodes+stalled, stalled, maxConns)
	}
	if peak < 1 || peak > maxConns {
		t.Errorf("pool: at most %d open at once, want 1..%d", peak, maxConns)
	}
	drops := strings.Count(srv.Log(), "past MaxStartups")
	if refused == 0 || drops == 0 {
		t.Errorf("%d handshakes retried, %d dropped in sshd's log: the test did not trip MaxStartups", refused, drops)
	}
	for i := 1; i <= nodes; i++ {
		got, err := os.ReadFile(filepath.Join(base, fmt.Sprintf("node-%02d", i)))
		if err != nil {
			t.Fatalf("node-%02d did not run: %v", i, err)
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(got)))
		if err != nil || n < 1 || n > maxConns {
			t.Errorf("node-%02d: sshd had %q connections established, want 1..%d", i, got, maxConns)
		}
	}
}
