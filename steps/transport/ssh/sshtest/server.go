// Package sshtest starts real OpenSSH sshd processes on 127.0.0.1 for tests:
// temporary host keys, a temporary authorized client key, and handles to stop,
// kill, freeze and restart the server for fault injection. Tests of the SSH
// transport, the engine and the rehearsal sandbox share it.
//
//	srv := sshtest.Start(t)
//	cfg := ssh.Config{Host: "127.0.0.1", Port: srv.Port, User: srv.User,
//		IdentityFiles: []string{srv.ClientKeyFile()},
//		KnownHostsFiles: []string{srv.KnownHostsFile()}}
package sshtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHD is the OpenSSH server binary the harness runs.
const SSHD = "/usr/sbin/sshd"

// Host is the only address the harness listens on.
const Host = "127.0.0.1"

// Server is one running sshd on 127.0.0.1.
type Server struct {
	Host string // always 127.0.0.1
	Port int
	// User is the account the client key is authorized for.
	User string
	// Dir holds the config, keys, authorized_keys and known_hosts (0755, so a
	// non-root User can read authorized_keys).
	Dir string
	// HostKeys are the server's host keys, the first being the "main" one.
	HostKeys []*Key
	// ClientKey is an unencrypted key authorized for User.
	ClientKey *Key

	tb     testing.TB
	conf   string
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

type options struct {
	user      string
	hostKeys  []KeyType
	clientKey KeyType
	port      int
	extra     []string
}

// Option changes how Start sets up the server.
type Option func(*options)

// WithUser authorizes the client key for name instead of the default user
// (see DefaultUser). The account must exist (see EnsureUser).
func WithUser(name string) Option { return func(o *options) { o.user = name } }

// WithHostKeyTypes sets the server's host key types (default ed25519,
// ecdsa; the first is the one KnownHostsLine records).
func WithHostKeyTypes(types ...KeyType) Option { return func(o *options) { o.hostKeys = types } }

// WithClientKeyType sets the type of ClientKey (default ed25519).
func WithClientKeyType(t KeyType) Option { return func(o *options) { o.clientKey = t } }

// WithPort listens on a fixed port instead of a free one.
func WithPort(port int) Option { return func(o *options) { o.port = port } }

// WithConfig adds sshd_config lines (e.g. "MaxSessions 2"), taking
// precedence over the harness's defaults.
func WithConfig(lines ...string) Option {
	return func(o *options) { o.extra = append(o.extra, lines...) }
}

// Start starts sshd and waits until it answers with an SSH banner. It skips
// the test when /usr/sbin/sshd is missing and stops the server at cleanup.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	if _, err := os.Stat(SSHD); err != nil {
		tb.Skipf("sshtest: %s not installed (Debian: apt-get install openssh-server)", SSHD)
	}
	o := options{hostKeys: []KeyType{ED25519, ECDSA}, clientKey: ED25519}
	for _, opt := range opts {
		opt(&o)
	}
	if o.user == "" {
		o.user = defaultUser(tb)
	}
	dir, err := os.MkdirTemp("", "sshtest-")
	if err != nil {
		tb.Fatalf("sshtest: temp dir: %v", err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	// sshd reads authorized_keys as the target user.
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatalf("sshtest: chmod %s: %v", dir, err)
	}
	s := &Server{Host: Host, User: o.user, Dir: dir, tb: tb}
	for i, typ := range o.hostKeys {
		k, err := GenerateKey(dir, fmt.Sprintf("ssh_host_%d_%s_key", i, typ), typ, "")
		if err != nil {
			tb.Fatalf("sshtest: %v", err)
		}
		s.HostKeys = append(s.HostKeys, k)
	}
	if s.ClientKey, err = GenerateKey(dir, "id_client", o.clientKey, ""); err != nil {
		tb.Fatalf("sshtest: %v", err)
	}
	if err := s.Authorize(s.ClientKey.Public); err != nil {
		tb.Fatalf("sshtest: %v", err)
	}
	if os.Geteuid() == 0 {
		// Debian's sshd refuses to start without its privilege separation dir.
		_ = os.MkdirAll("/run/sshd", 0o755)
	}
	tb.Cleanup(func() {
		s.Kill()
		if tb.Failed() {
			tb.Logf("sshd on port %d log:\n%s", s.Port, s.Log())
		}
	})
	for attempt := 0; ; attempt++ {
		port := o.port
		if port == 0 {
			port = freePort(tb)
		}
		s.Port = port
		s.conf = s.writeConfig(o.extra)
		err := s.start()
		if err == nil {
			break
		}
		if o.port != 0 || attempt == 4 {
			tb.Fatalf("sshtest: %v\n%s", err, s.Log())
		}
	}
	return s
}

// Addr is "127.0.0.1:PORT".
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// HostKey is the server's main (first) public host key.
func (s *Server) HostKey() ssh.PublicKey { return s.HostKeys[0].Public }

// ClientKeyFile is the path of the authorized, unencrypted client private key.
func (s *Server) ClientKeyFile() string { return s.ClientKey.Path }

// KnownHostsLine is a known_hosts line ([127.0.0.1]:PORT) for the main host
// key only, so it also checks that clients negotiate the algorithm they know.
func (s *Server) KnownHostsLine() string {
	return knownhosts.Line([]string{knownhosts.Normalize(s.Addr())}, s.HostKey())
}

// HashedKnownHostsLine is KnownHostsLine with the host name hashed, as
// OpenSSH writes it with HashKnownHosts yes.
func (s *Server) HashedKnownHostsLine() string {
	return knownhosts.Line([]string{knownhosts.HashHostname(knownhosts.Normalize(s.Addr()))}, s.HostKey())
}

// KnownHostsFile writes KnownHostsLine to a fresh file and returns its path.
func (s *Server) KnownHostsFile() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	path := filepath.Join(s.Dir, fmt.Sprintf("known_hosts.%d", time.Now().UnixNano()))
	if err := os.WriteFile(path, []byte(s.KnownHostsLine()+"\n"), 0o644); err != nil {
		s.tb.Fatalf("sshtest: writing %s: %v", path, err)
	}
	return path
}

// Authorize adds pub to the authorized keys of User.
func (s *Server) Authorize(pub ssh.PublicKey) error {
	path := filepath.Join(s.Dir, "authorized_keys."+s.User)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	_, err = f.Write(ssh.MarshalAuthorizedKey(pub))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// Log is what sshd has written so far (it runs with -e).
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logPath())
	return string(b)
}

func (s *Server) logPath() string { return filepath.Join(s.Dir, "sshd.log") }

func (s *Server) writeConfig(extra []string) string {
	var b strings.Builder
	// sshd takes the first value of a keyword: extra lines go first so they
	// override the defaults below.
	for _, l := range extra {
		b.WriteString(l + "\n")
	}
	fmt.Fprintf(&b, "Port %d\nListenAddress %s\n", s.Port, s.Host)
	for _, k := range s.HostKeys {
		fmt.Fprintf(&b, "HostKey %s\n", k.Path)
	}
	// %u: keys authorize User only, not every account on the machine.
	fmt.Fprintf(&b, "AuthorizedKeysFile %s\n", filepath.Join(s.Dir, "authorized_keys.%u"))
	// MaxStartups is one of the keywords where sshd takes the last value,
	// not the first: write the default only when extra does not set it.
	maxStartups := "MaxStartups 100:30:200"
	for _, l := range extra {
		if f := strings.Fields(l); len(f) > 0 && strings.EqualFold(f[0], "MaxStartups") {
			maxStartups = l
		}
	}
	b.WriteString(strings.Join([]string{
		"PidFile none",
		"StrictModes no",
		"UsePAM no",
		"UseDNS no",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PubkeyAuthentication yes",
		"PermitRootLogin prohibit-password",
		"AllowTcpForwarding yes",
		"AllowStreamLocalForwarding yes",
		"MaxAuthTries 20",
		maxStartups,
		"LogLevel VERBOSE",
	}, "\n"))
	b.WriteString("\n")
	path := filepath.Join(s.Dir, "sshd_config")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		s.tb.Fatalf("sshtest: writing %s: %v", path, err)
	}
	return path
}

// DefaultUser is the account the client key is authorized for when the tests
// run as root: an unprivileged account with /bin/sh, created if missing. Root
// logins run root's ~/.bashrc (bash sources it for ssh commands), which on
// developer machines can cost seconds per command; WithUser("root") tests
// root explicitly. Non-root test runs use the current user.
const DefaultUser = "zdu-sshtest"

func defaultUser(tb testing.TB) string {
	tb.Helper()
	if os.Geteuid() == 0 {
		EnsureUser(tb, DefaultUser)
		return DefaultUser
	}
	u, err := user.Current()
	if err != nil {
		tb.Fatalf("sshtest: current user: %v", err)
	}
	return u.Username
}

func freePort(tb testing.TB) int {
	l, err := net.Listen("tcp", Host+":0")
	if err != nil {
		tb.Fatalf("sshtest: finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// sysProcAttr keeps sshd out of the test's process group, so a ^C aimed at
// `go test` does not race the harness's own cleanup.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
