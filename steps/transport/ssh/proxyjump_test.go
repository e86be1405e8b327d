package ssh

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/steps/transport"
	"github.com/zdu-dev/zdu/steps/transport/ssh/sshtest"
)

func TestProxyJump(t *testing.T) {
	target := sshtest.Start(t)
	bastion := sshtest.Start(t, sshtest.WithConfig("LogLevel DEBUG1"))
	known := filepath.Join(t.TempDir(), "known_hosts")
	lines := target.KnownHostsLine() + "\n" + bastion.KnownHostsLine() + "\n"
	if err := os.WriteFile(known, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	// The bastion authorizes the target's client key, so one key serves both.
	if err := bastion.Authorize(target.ClientKey.Public); err != nil {
		t.Fatal(err)
	}
	jump := bastion.User + "@" + bastion.Addr()

	t.Run("inventory ProxyJump", func(t *testing.T) {
		cfg := nodeConfig(target)
		cfg.KnownHostsFiles = []string{known}
		cfg.ProxyJump = jump
		tr := dialT(t, cfg)
		runT(t, tr, "true")
		if !strings.Contains(bastion.Log(), "target 127.0.0.1 port "+strconv.Itoa(target.Port)) {
			t.Fatalf("the bastion did not forward to port %d:\n%s", target.Port, bastion.Log())
		}
	})
	t.Run("ssh_config ProxyJump alias", func(t *testing.T) {
		conf := filepath.Join(t.TempDir(), "config")
		text := "Host bastion\n  HostName 127.0.0.1\n  Port " + strconv.Itoa(bastion.Port) +
			"\n  User " + bastion.User + "\nHost app\n  HostName 127.0.0.1\n  ProxyJump bastion\n"
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := nodeConfig(target)
		cfg.Host, cfg.SSHConfigFile, cfg.KnownHostsFiles = "app", conf, []string{known}
		before := strings.Count(bastion.Log(), "Accepted publickey")
		runT(t, dialT(t, cfg), "true")
		if strings.Count(bastion.Log(), "Accepted publickey") != before+1 {
			t.Fatal("the connection did not go through the bastion")
		}
	})
	t.Run("bastion down", func(t *testing.T) {
		cfg := nodeConfig(target)
		cfg.KnownHostsFiles = []string{known}
		cfg.ProxyJump = target.User + "@127.0.0.1:1"
		_, err := Dial(context.Background(), cfg)
		if !errors.Is(err, transport.ErrUnreachable) || !strings.Contains(err.Error(), "via jump host") {
			t.Fatalf("error %v, want unreachable via jump host", err)
		}
	})
}

// Nodes dialled with one Jumps share one connection to their bastion: the
// bastion sees one login for three nodes, and the connection is closed when
// the last node's is.
func TestProxyJumpShared(t *testing.T) {
	bastion := sshtest.Start(t)
	var targets []*sshtest.Server
	lines := bastion.KnownHostsLine() + "\n"
	for range 3 {
		s := sshtest.Start(t)
		if err := s.Authorize(bastion.ClientKey.Public); err != nil {
			t.Fatal(err)
		}
		targets = append(targets, s)
		lines += s.KnownHostsLine() + "\n"
	}
	known := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(known, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	jumps := NewJumps()
	var trs []*Transport
	for i, target := range targets {
		cfg := nodeConfig(target)
		cfg.Name = "node-" + strconv.Itoa(i+1)
		cfg.IdentityFiles = []string{bastion.ClientKeyFile()}
		cfg.KnownHostsFiles = []string{known}
		cfg.ProxyJump = bastion.User + "@" + bastion.Addr()
		cfg.Jumps = jumps
		tr := dialT(t, cfg)
		runT(t, tr, "true")
		trs = append(trs, tr)
	}
	for _, target := range targets {
		if n := acceptedLogins(target); n != 1 {
			t.Fatalf("a node saw %d logins, want 1", n)
		}
	}
	if n := acceptedLogins(bastion); n != 1 {
		t.Fatalf("the bastion saw %d logins for 3 nodes, want 1 shared", n)
	}
	if jumps.Open() != 1 {
		t.Fatalf("%d jump connections open, want 1", jumps.Open())
	}
	trs[0].Close()
	runT(t, trs[1], "true") // the others still ride on it
	trs[1].Close()
	trs[2].Close()
	if jumps.Open() != 0 {
		t.Fatalf("%d jump connections open after every node closed, want 0", jumps.Open())
	}
	// A new node dials the bastion again.
	cfg := nodeConfig(targets[0])
	cfg.IdentityFiles, cfg.KnownHostsFiles = []string{bastion.ClientKeyFile()}, []string{known}
	cfg.ProxyJump, cfg.Jumps = bastion.User+"@"+bastion.Addr(), jumps
	runT(t, dialT(t, cfg), "true")
	if n := acceptedLogins(bastion); n != 2 {
		t.Fatalf("the bastion saw %d logins, want 2 (one per time it was needed)", n)
	}
}
