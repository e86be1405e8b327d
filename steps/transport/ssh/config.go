// Package ssh is zdu's SSH transport: one verified, kept-alive connection per
// node, opened once and shared by every step, with sessions multiplexed on it.
// It honours the operator's ~/.ssh/config (aliases, HostName, User, Port,
// IdentityFile, ProxyJump) with the inventory taking precedence, verifies host
// keys against known_hosts (trust-on-first-use only when asked), and kills a
// timed-out command's whole process group on the node itself.
package ssh

import (
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Defaults for the zero values of Config.
const (
	DefaultConnectTimeout = 15 * time.Second
	// A dead peer is noticed within DefaultKeepAlive × DefaultKeepAliveMax
	// (15 s), as OpenSSH's ServerAliveInterval/ServerAliveCountMax would.
	DefaultKeepAlive    = 5 * time.Second
	DefaultKeepAliveMax = 3
	// DefaultMaxSessions stays well under OpenSSH's MaxSessions (10) and
	// leaves room for the sessions that kill timed-out commands.
	DefaultMaxSessions = 6
	DefaultKillGrace   = 2 * time.Second
)

// Config says how to reach one node. Zero values take the operator's
// ssh_config, then the defaults above.
type Config struct {
	// Name is the node's inventory name, used in every message.
	Name string
	// Host is an address or an ssh_config Host alias.
	Host string
	// Port and User override ssh_config; 0 / "" fall back to it, then 22 and
	// the local user.
	Port int
	User string
	// IdentityFiles are private keys to offer (before the agent's). Empty:
	// ssh_config's IdentityFile, else ~/.ssh/id_ed25519, id_ecdsa, id_rsa.
	IdentityFiles []string
	// KnownHostsFiles hold the trusted host keys. Empty: ssh_config's
	// UserKnownHostsFile, else ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts.
	KnownHostsFiles []string
	// TrustOnFirstUse accepts and records (in the first known_hosts file) the
	// key of a host known_hosts does not list yet. A changed key is always
	// refused.
	TrustOnFirstUse bool
	// ConnectTimeout bounds TCP connect, SSH handshake and authentication,
	// per hop.
	ConnectTimeout time.Duration
	// KeepAlive is the keepalive@openssh.com interval; after KeepAliveMax
	// unanswered intervals the connection is declared dead. Negative disables.
	KeepAlive    time.Duration
	KeepAliveMax int
	// SSHConfigFile is the OpenSSH client config to read: "" means
	// ~/.ssh/config when it exists, "none" reads none.
	SSHConfigFile string
	// ProxyJump is "[user@]host[:port]" or a comma-separated chain of them,
	// each possibly an ssh_config alias; "none" ignores ssh_config's.
	ProxyJump string
	// Agent offers the keys of the ssh-agent at AgentSocket (default
	// $SSH_AUTH_SOCK, or ssh_config's IdentityAgent).
	Agent       bool
	AgentSocket string
	// MaxSessions bounds concurrent commands on the connection.
	MaxSessions int
	// KillGrace is how long a cancelled command's process group has between
	// SIGTERM and SIGKILL on the node.
	KillGrace time.Duration
	// RefusedPatience is how long a handshake is tried again while the
	// server drops it before its banner (sshd's MaxStartups, a bastion's
	// limit): 0 means DefaultRefusedPatience, negative no retry.
	RefusedPatience time.Duration
	// OnRefused, when set, is called before each such retry (for counting).
	OnRefused func(error)
	// Jumps, when set, shares jump-host connections with every other node
	// dialled with the same Jumps (see NewJumps); nil: each node opens its own.
	Jumps *Jumps
	// HostKeys, when set, keeps known_hosts parsed between the dials that
	// share it; nil reads the files on every dial.
	HostKeys *HostKeyCache
}

// endpoint is one resolved hop: the address to reach and how to log in.
type endpoint struct {
	alias      string // Host as written
	host       string // HostName
	port       int
	user       string
	identities []string
	explicit   bool // identities were named, so a missing file is an error
	knownHosts []string
	agentSock  string
	timeout    time.Duration
	jumps      []endpoint
	cfg        *Config
}

func (e endpoint) addr() string { return net.JoinHostPort(e.host, strconv.Itoa(e.port)) }

func (e endpoint) String() string { return e.user + "@" + e.addr() }

// label names the node for messages: "web1 (deploy@10.0.0.5:22)".
func (c *Config) label(e endpoint) string {
	if c.Name == "" || c.Name == e.addr() {
		return e.String()
	}
	return c.Name + " (" + e.String() + ")"
}

// resolve merges c with ssh_config into the endpoint chain to dial.
func (c *Config) resolve() (endpoint, error) {
	if c.Host == "" {
		return endpoint{}, fmt.Errorf("node %q: no host", c.Name)
	}
	var sc *sshConfig
	path := c.SSHConfigFile
	if path == "" {
		if p := filepath.Join(homeDir(), ".ssh", "config"); fileExists(p) {
			path = p
		}
	}
	if path != "" && path != "none" {
		var err error
		if sc, err = readSSHConfig(expandHome(path)); err != nil {
			return endpoint{}, err
		}
	}
	return c.resolveHop(sc, c.Host, c.Port, c.User, c.IdentityFiles, c.ProxyJump, 0)
}

func (c *Config) resolveHop(sc *sshConfig, alias string, port int, usr string,
	identities []string, jump string, depth int) (endpoint, error) {
	if depth > 8 {
		return endpoint{}, fmt.Errorf("ProxyJump chain through %s is too long (loop?)", alias)
	}
	var hs hostSettings
	if sc != nil {
		hs = sc.lookup(alias)
	}
	e := endpoint{alias: alias, host: alias, port: port, user: usr, cfg: c}
	if hs.HostName != "" {
		e.host = hs.HostName
	}
	if e.port == 0 && hs.Port != "" {
		p, err := strconv.Atoi(hs.Port)
		if err != nil || p <= 0 || p > 65535 {
			return endpoint{}, fmt.Errorf("ssh config %s: host %s: bad Port %q", sc.path, alias, hs.Port)
		}
		e.port = p
	}
	if e.port == 0 {
		e.port = 22
	}
	local := localUser()
	if e.user == "" {
		e.user = hs.User
	}
	if e.user == "" {
		e.user = local
	}
	portStr := strconv.Itoa(e.port)
	switch {
	case len(identities) > 0:
		e.identities, e.explicit = append([]string(nil), identities...), true
	case len(hs.IdentityFiles) > 0:
		e.identities, e.explicit = append([]string(nil), hs.IdentityFiles...), true
	default:
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			e.identities = append(e.identities, filepath.Join(homeDir(), ".ssh", n))
		}
	}
	for i, f := range e.identities {
		e.identities[i] = expandTokens(f, e.host, portStr, e.user, local)
	}
	e.knownHosts = append([]string(nil), c.KnownHostsFiles...)
	if len(e.knownHosts) == 0 {
		e.knownHosts = append([]string(nil), hs.KnownHosts...)
	}
	if len(e.knownHosts) == 0 {
		e.knownHosts = []string{filepath.Join(homeDir(), ".ssh", "known_hosts"), "/etc/ssh/ssh_known_hosts"}
	}
	for i, f := range e.knownHosts {
		e.knownHosts[i] = expandTokens(f, e.host, portStr, e.user, local)
	}
	e.agentSock = c.AgentSocket
	if e.agentSock == "" && hs.IdentityAgent != "" && hs.IdentityAgent != "SSH_AUTH_SOCK" {
		e.agentSock = expandTokens(hs.IdentityAgent, e.host, portStr, e.user, local)
	}
	if e.agentSock == "" {
		e.agentSock = os.Getenv("SSH_AUTH_SOCK")
	}
	e.timeout = c.ConnectTimeout
	if e.timeout == 0 && hs.ConnectTimeout != "" {
		if s, err := strconv.Atoi(hs.ConnectTimeout); err == nil && s > 0 {
			e.timeout = time.Duration(s) * time.Second
		}
	}
	if e.timeout <= 0 {
		e.timeout = DefaultConnectTimeout
	}
	if jump == "" {
		jump = hs.ProxyJump
	}
	if jump == "" || jump == "none" {
		return e, nil
	}
	for _, hop := range strings.Split(jump, ",") {
		hu, hh, hp, err := splitJump(strings.TrimSpace(hop))
		if err != nil {
			return endpoint{}, fmt.Errorf("ProxyJump %q for %s: %w", jump, alias, err)
		}
		// A hop is a host of its own: its ssh_config applies, but it falls
		// back to the node's identity files, and it has no jump of its own
		// (the chain is spelled out here).
		j, err := c.resolveHop(sc, hh, hp, hu, identities, "none", depth+1)
		if err != nil {
			return endpoint{}, err
		}
		e.jumps = append(e.jumps, j)
	}
	return e, nil
}

// splitJump parses "[user@]host[:port]" (ssh:// URIs are not supported).
func splitJump(s string) (usr, host string, port int, err error) {
	if s == "" {
		return "", "", 0, fmt.Errorf("empty hop")
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		usr, s = s[:i], s[i+1:]
	}
	host = s
	if h, p, e := net.SplitHostPort(s); e == nil {
		host = h
		if port, err = strconv.Atoi(p); err != nil || port <= 0 || port > 65535 {
			return "", "", 0, fmt.Errorf("bad port in %q", s)
		}
	}
	return usr, host, port, nil
}

func localUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
