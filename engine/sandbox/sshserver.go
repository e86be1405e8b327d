// Package sandbox builds the local rehearsal environment of `zdu rehearse`:
// one embedded SSH server per node on 127.0.0.1 (real SSH protocol, its own
// host key, public-key auth), a small versioned HTTP service per node that
// stand-in product commands start and stop, and the real load balancer the
// inventory names in front (HAProxy instances, or nginx), described by a
// generated inventory the engine runs a plan against. What each node does
// with a command (a stand-in answers it, it runs, or it is refused) is the
// plan's rehearsal file's to say (rehearsal.go, policy.go).
package sandbox

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// NodeConfig shapes one node's SSH server.
type NodeConfig struct {
	// Name is the node's inventory name (ZDU_NODE in its commands).
	Name string
	// Root is the node's working directory: commands start there and HOME
	// points at it, so the same command behaves per node.
	Root string
	// Env is added to every command's environment (after ZDU_NODE,
	// ZDU_ROOT and HOME, which it may override). A "PATH" entry replaces the
	// server's PATH.
	Env map[string]string
	// AuthorizedKey is the one client key allowed in.
	AuthorizedKey ssh.PublicKey
	// User, when set, is the only user name accepted.
	User string
	// HostKey is the server's key; nil generates an ed25519 key.
	HostKey ssh.Signer
	// Policy decides every command (nil: every command runs).
	Policy Policy
	// Credential, when set, is the user commands run as.
	Credential *syscall.Credential
}

// SSHNode is one running embedded SSH server on 127.0.0.1.
type SSHNode struct {
	Name string
	Addr string // 127.0.0.1:PORT
	Port int
	// HostKey is what clients must find in known_hosts.
	HostKey ssh.PublicKey

	cfg  NodeConfig
	conf *ssh.ServerConfig
	ln   net.Listener
	env  []string

	mu     sync.Mutex
	conns  map[*ssh.ServerConn]struct{}
	groups map[int]bool // the process groups of the commands running
	// downAfter is how many more commands it answers before it goes
	// down (-1: never); wentDown whether it did.
	downAfter int
	wentDown  bool
	closed    bool
	wg        sync.WaitGroup
}

// StartSSH starts a node's SSH server on a free loopback port.
func StartSSH(ctx context.Context, cfg NodeConfig) (*SSHNode, error) {
	if cfg.AuthorizedKey == nil {
		return nil, fmt.Errorf("ssh server for node %s: no authorized key", cfg.Name)
	}
	if cfg.Root == "" {
		return nil, fmt.Errorf("ssh server for node %s: no root directory", cfg.Name)
	}
	if cfg.HostKey == nil {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("host key for node %s: %w", cfg.Name, err)
		}
		if cfg.HostKey, err = ssh.NewSignerFromKey(priv); err != nil {
			return nil, fmt.Errorf("host key for node %s: %w", cfg.Name, err)
		}
	}
	n := &SSHNode{Name: cfg.Name, HostKey: cfg.HostKey.PublicKey(), cfg: cfg, conns: map[*ssh.ServerConn]struct{}{}, downAfter: -1}
	n.conf = &ssh.ServerConfig{PublicKeyCallback: n.checkKey, ServerVersion: "SSH-2.0-zdu-sandbox"}
	n.conf.AddHostKey(cfg.HostKey)
	n.env = nodeEnv(cfg)
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("ssh server for node %s: listening on 127.0.0.1: %w", cfg.Name, err)
	}
	n.ln = ln
	n.Addr = ln.Addr().String()
	n.Port = ln.Addr().(*net.TCPAddr).Port
	n.wg.Add(1)
	go n.accept()
	return n, nil
}

// nodeEnv is the base environment of the node's commands.
func nodeEnv(cfg NodeConfig) []string {
	m := map[string]string{
		"PATH":     os.Getenv("PATH"),
		"HOME":     cfg.Root,
		"ZDU_NODE": cfg.Name,
		"ZDU_ROOT": cfg.Root,
		"LANG":     "C",
		"SHELL":    "/bin/sh",
	}
	if cfg.User != "" {
		m["USER"], m["LOGNAME"] = cfg.User, cfg.User
	}
	for k, v := range cfg.Env {
		m[k] = v
	}
	return mergeEnv(nil, m)
}

// mergeEnv returns base with the variables of m set (replacing earlier ones).
func mergeEnv(base []string, m map[string]string) []string {
	out := make([]string, 0, len(base)+len(m))
	for _, kv := range base {
		k, _, _ := stringsCut(kv, "=")
		if _, ok := m[k]; !ok {
			out = append(out, kv)
		}
	}
	for _, k := range sortedKeys(m) {
		out = append(out, k+"="+m[k])
	}
	return out
}

func (n *SSHNode) checkKey(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	if n.cfg.User != "" && meta.User() != n.cfg.User {
		return nil, fmt.Errorf("user %q not allowed on node %s", meta.User(), n.Name)
	}
	if !bytes.Equal(key.Marshal(), n.cfg.AuthorizedKey.Marshal()) {
		return nil, fmt.Errorf("key %s not authorized on node %s", ssh.FingerprintSHA256(key), n.Name)
	}
	return &ssh.Permissions{}, nil
}

// KnownHostsLine is the node's known_hosts line: "[127.0.0.1]:PORT ssh-ed25519 ...".
func (n *SSHNode) KnownHostsLine() string {
	return knownhosts.Line([]string{knownhosts.Normalize(n.Addr)}, n.HostKey)
}

// Root is the node's working directory.
func (n *SSHNode) Root() string { return n.cfg.Root }

func (n *SSHNode) accept() {
	defer n.wg.Done()
	for {
		c, err := n.ln.Accept()
		if err != nil {
			return
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.serveConn(c)
		}()
	}
}

func (n *SSHNode) serveConn(raw net.Conn) {
	sc, chans, reqs, err := ssh.NewServerConn(raw, n.conf)
	if err != nil {
		raw.Close()
		return
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		sc.Close()
		return
	}
	n.conns[sc] = struct{}{}
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.conns, sc)
		n.mu.Unlock()
		sc.Close()
	}()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for r := range reqs {
			// keepalive@openssh.com (and any other global request): any
			// answer proves the server alive; we support none of them.
			if r.WantReply {
				_ = r.Reply(r.Type == "keepalive@openssh.com", nil)
			}
		}
	}()
	var chWG sync.WaitGroup
	for nc := range chans {
		chWG.Add(1)
		go func() {
			defer chWG.Done()
			n.serveChannel(nc)
		}()
	}
	chWG.Wait()
}

func (n *SSHNode) serveChannel(nc ssh.NewChannel) {
	switch nc.ChannelType() {
	case "session":
		ch, reqs, err := nc.Accept()
		if err != nil {
			return
		}
		(&session{node: n, ch: ch, env: map[string]string{}}).serve(reqs)
	case "direct-tcpip":
		n.forwardTCP(nc)
	case "direct-streamlocal@openssh.com":
		n.forwardUnix(nc)
	default:
		_ = nc.Reject(ssh.UnknownChannelType, "unsupported channel type "+nc.ChannelType())
	}
}

// Close stops accepting, closes every connection (which kills every
// running command's process group) and waits for it all to end.
func (n *SSHNode) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	conns := make([]*ssh.ServerConn, 0, len(n.conns))
	for c := range n.conns {
		conns = append(conns, c)
	}
	n.mu.Unlock()
	err := n.ln.Close()
	for _, c := range conns {
		c.Close()
	}
	n.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// DownAfter makes the node answer n more commands; at the next one its
// SSH server goes down: every connection is closed, new ones are refused
// (a node that became unreachable).
func (n *SSHNode) DownAfter(count int) { n.mu.Lock(); n.downAfter = count; n.mu.Unlock() }

// WentDown reports whether the server went down (DownAfter).
func (n *SSHNode) WentDown() bool { n.mu.Lock(); defer n.mu.Unlock(); return n.wentDown }

// countCommand counts one command against DownAfter: false once the
// server must go down, which it then does.
func (n *SSHNode) countCommand() bool {
	n.mu.Lock()
	switch {
	case n.downAfter < 0:
		n.mu.Unlock()
		return true
	case n.downAfter > 0:
		n.downAfter--
		n.mu.Unlock()
		return true
	}
	n.wentDown = true
	n.mu.Unlock()
	go n.Close() // not from this connection's own goroutine, which Close waits for
	return false
}

// track records a command's process group as running, or ended.
func (n *SSHNode) track(pgid int, running bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.groups == nil {
		n.groups = map[int]bool{}
	}
	if running {
		n.groups[pgid] = true
	} else {
		delete(n.groups, pgid)
	}
}

// started reports whether pgid is the group of a command running here.
func (n *SSHNode) started(pgid int) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.groups[pgid]
}

func portString(p uint32) string { return strconv.FormatUint(uint64(p), 10) }
