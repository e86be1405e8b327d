package main

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
		ConnectTimeout: s.ConnectTimeout, KeepAlive: s.KeepAlive, SSHConfigFile: s.Config,
		ProxyJump: proxy, Agent: true,
	}
}

// dialer opens a node's SSH transport.
func dialer(inv *load.Inventory) func(n *load.Node) (transport.Transport, error) {
	return func(n *load.Node) (transport.Transport, error) {
		t, err := zssh.Dial(context.Background(), sshConfig(inv, n))
		if err != nil {
			return nil, err
		}
		return t, nil
	}
}
