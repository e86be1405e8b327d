package loopback

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/zdu-dev/zdu/steps/lb/haproxy"
)

// HAProxyConfig shapes a loopback HAProxy.
type HAProxyConfig struct {
	// Backend is the backend's name (default "app").
	Backend string
	// Servers are the backend's servers, named after each Backend.Name.
	Servers []*Backend
	// Weight is every server's configured weight (default 10, so a weight
	// that was not restored is told apart from HAProxy's default of 1).
	Weight int
	// Check enables HTTP health checks on /health every 100ms (fall 1, rise
	// 1), each allowed 2s to answer.
	Check bool
	// TCPAdmin also opens an admin-level runtime API on a loopback TCP port.
	TCPAdmin bool
	// Dir holds the config and sockets; default: a new temp dir removed by Close.
	Dir string
}

// HAProxy is a running HAProxy.
type HAProxy struct {
	daemon
	Config  string // the haproxy.cfg path
	Backend string
	// Socket is the admin-level unix socket; OperatorSocket and UserSocket the
	// same runtime API at lower levels; TCPAddr the TCP admin one (if asked).
	Socket, OperatorSocket, UserSocket, TCPAddr string
	// URL is the loopback frontend.
	URL string
}

// StartHAProxy writes a config and starts HAProxy in the foreground
// (master-less, -db) until it answers on its socket and frontend.
func StartHAProxy(ctx context.Context, cfg HAProxyConfig) (*HAProxy, error) {
	h := &HAProxy{Backend: cfg.Backend}
	if h.Backend == "" {
		h.Backend = "app"
	}
	if cfg.Weight == 0 {
		cfg.Weight = 10
	}
	if err := h.useDir(cfg.Dir, "zdu-haproxy-"); err != nil {
		return nil, err
	}
	h.Socket = filepath.Join(h.Dir, "admin.sock")
	h.OperatorSocket = filepath.Join(h.Dir, "operator.sock")
	h.UserSocket = filepath.Join(h.Dir, "user.sock")
	port, err := FreePort()
	if err != nil {
		return nil, h.fail(err)
	}
	h.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
	var b strings.Builder
	fmt.Fprintf(&b, `global
    stats socket %s mode 600 level admin
    stats socket %s mode 600 level operator
    stats socket %s mode 600 level user
`, h.Socket, h.OperatorSocket, h.UserSocket)
	if cfg.TCPAdmin {
		tp, err := FreePort()
		if err != nil {
			return nil, h.fail(err)
		}
		h.TCPAddr = fmt.Sprintf("127.0.0.1:%d", tp)
		fmt.Fprintf(&b, "    stats socket ipv4@%s level admin\n", h.TCPAddr)
	}
	// retries 0 and no redispatch: a failure must reach the client, where the
	// tests and the rehearsal probe count it, and never be hidden by a retry.
	// forwardfor marks what came through HAProxy (Backend.Balanced).
	fmt.Fprintf(&b, `    nbthread 2

defaults
    mode http
    option forwardfor
    retries 0
    timeout connect 2s
    timeout client 60s
    timeout server 60s

frontend fe
    bind 127.0.0.1:%d
    default_backend %s
    # Name the server that answered, HAProxy's own error answers included:
    # the probe attributes each answer, and each outage, to its server.
    http-after-response set-header X-Served-By %%s

backend %s
    balance roundrobin
`, port, h.Backend, h.Backend)
	if cfg.Check {
		// Without "timeout check" HAProxy gives a whole check only "inter"
		// (100ms): on a loaded machine a backend that is up but slow to be
		// scheduled then fails its check and, with fall 1, is taken out, so
		// a rehearsal sees 503s that no upgrade step caused. A refused
		// connection or a 503 from /health still fails a check at once.
		b.WriteString("    option httpchk GET /health\n    timeout check 2s\n    default-server check inter 100ms fall 1 rise 1\n")
	}
	for _, s := range cfg.Servers {
		fmt.Fprintf(&b, "    server %s %s weight %d\n", s.Name, s.Addr(), cfg.Weight)
	}
	h.Config = filepath.Join(h.Dir, "haproxy.cfg")
	if err := os.WriteFile(h.Config, []byte(b.String()), 0o600); err != nil {
		return nil, h.fail(fmt.Errorf("writing %s: %w", h.Config, err))
	}
	if err := h.run(ctx); err != nil {
		return nil, h.fail(err)
	}
	return h, nil
}

// run starts HAProxy on its config and waits until it answers.
func (h *HAProxy) run(ctx context.Context) error {
	return h.start(ctx, "haproxy "+h.Config, HAProxyPath, []string{"-db", "-f", h.Config}, func(ctx context.Context) error {
		if _, err := h.Command(ctx, "show cli level"); err != nil {
			return err
		}
		return answers(ctx, h.URL)
	})
}

// Restart stops HAProxy and starts it again on the same config, sockets
// and port, as a service manager's restart does: what was set at run time
// (a server drained, a weight) is lost, every server is back to its
// configured state.
func (h *HAProxy) Restart(ctx context.Context) error {
	if err := h.p.stop(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stopping haproxy: %w", err)
	}
	for _, s := range []string{h.Socket, h.OperatorSocket, h.UserSocket} {
		os.Remove(s) // a fresh haproxy binds them again
	}
	return h.run(ctx)
}

// Client is a runtime API client on the admin socket.
func (h *HAProxy) Client() *haproxy.Client {
	return haproxy.NewClient("haproxy "+h.Socket, "unix", h.Socket, (&net.Dialer{}).DialContext)
}

// Command sends one runtime API line on the admin socket.
func (h *HAProxy) Command(ctx context.Context, line string) (string, error) {
	return h.Client().Do(ctx, line)
}

// Stats reads `show stat`.
func (h *HAProxy) Stats(ctx context.Context) (*haproxy.Stats, error) { return h.Client().Stat(ctx) }
