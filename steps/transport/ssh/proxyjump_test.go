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
