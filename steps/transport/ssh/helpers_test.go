package ssh

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/steps/transport"
	"github.com/zdu-dev/zdu/steps/transport/ssh/sshtest"
)

// nodeConfig reaches srv with its client key and a known_hosts file holding
// only its main (ed25519) host key, and ignores the operator's ssh_config.
func nodeConfig(srv *sshtest.Server) Config {
	return Config{
		Name:            "node",
		Host:            srv.Host,
		Port:            srv.Port,
		User:            srv.User,
		IdentityFiles:   []string{srv.ClientKeyFile()},
		KnownHostsFiles: []string{srv.KnownHostsFile()},
		SSHConfigFile:   "none",
		ConnectTimeout:  10 * time.Second,
	}
}

func dialT(t *testing.T, cfg Config) *Transport {
	t.Helper()
	tr, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Dial %s: %v", cfg.Name, err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func runT(t *testing.T, tr transport.Transport, script string) transport.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := tr.Run(ctx, transport.Command{Script: script})
	if err != nil {
		t.Fatalf("Run %q: %v", script, err)
	}
	return res
}

// pgrep lists processes on this machine (the nodes run here) whose command
// line matches pattern.
func pgrep(t *testing.T, pattern string) []string {
	t.Helper()
	out, err := exec.Command("pgrep", "-af", pattern).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
			return nil // no match
		}
		t.Fatalf("pgrep %q: %v", pattern, err)
	}
	var procs []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		// pgrep -f also matches the sh -c of whoever asks; keep real ones.
		if l != "" && !strings.Contains(l, "pgrep") {
			procs = append(procs, l)
		}
	}
	return procs
}

// waitGone polls until no process matches pattern, or gives up after 20s, a
// bound only a process that was not killed reaches (the kill itself
// completes before Run returns; this only absorbs the kernel reaping
// zombies).
func waitGone(t *testing.T, pattern string) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		left := pgrep(t, pattern)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func acceptedLogins(srv *sshtest.Server) int {
	return strings.Count(srv.Log(), "Accepted publickey")
}
