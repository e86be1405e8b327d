package run

import (
	"context"

	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/steps/transport"
	zssh "github.com/zdu-dev/zdu/steps/transport/ssh"
)

// sshConfig maps an inventory node and the inventory's SSH settings to the
// SSH transport's configuration; the inventory wins over ~/.ssh/config.
func sshConfig(inv *load.Inventory, n *load.Node) zssh.Config {
	s := inv.SSH
	proxy := n.ProxyJump
	if proxy == "" {
		proxy = s.ProxyJump
	}
	return zssh.Config{
		Name: n.Name, Host: n.Host, Port: n.Port, User: n.User,
		IdentityFiles: s.IdentityFiles, KnownHostsFiles: s.KnownHosts, TrustOnFirstUse: s.TrustOnFirstUse,
		ConnectTimeout: s.ConnectTimeout, KeepAlive: s.KeepAlive, KeepAliveMax: s.KeepAliveCount, SSHConfigFile: s.Config,
		ProxyJump: proxy, Agent: true,
	}
}

// SSHDialer opens a node's SSH transport within ctx: the run's, so an
// interrupt during preflight or a reconnect ends the dial at once.
func SSHDialer(inv *load.Inventory) Dialer { return SSHDialerWith(inv, nil) }

// SSHDialerWith is SSHDialer, telling onRefused (when set) of every
// handshake a server dropped before its banner, each retried. Nodes behind
// the same jump hosts share one connection to them.
func SSHDialerWith(inv *load.Inventory, onRefused func(error)) Dialer {
	jumps := zssh.NewJumps()
	hostKeys := &zssh.HostKeyCache{}
	return func(ctx context.Context, n *load.Node) (transport.Transport, error) {
		cfg := sshConfig(inv, n)
		cfg.OnRefused = onRefused
		cfg.Jumps = jumps
		cfg.HostKeys = hostKeys
		t, err := zssh.Dial(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return t, nil
	}
}
