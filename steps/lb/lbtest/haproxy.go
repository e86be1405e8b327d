package lbtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/zdu-dev/zdu/steps/lb/haproxy"
)

// HAProxyConfig shapes a test HAProxy.
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
	Dir     string
	Config  string // the haproxy.cfg path
	Backend string
	// Socket is the admin-level unix socket; OperatorSocket and UserSocket the
	// same runtime API at lower levels; TCPAddr the TCP admin one (if asked).
	Socket, OperatorSocket, UserSocket, TCPAddr string
	// URL is the loopback frontend.
	URL string

	p      *process
	ownDir bool
}

// StartHAProxy writes a config and starts HAProxy in the foreground
// (master-less, -db) until it answers on its socket and frontend.
func StartHAProxy(ctx context.Context, cfg HAProxyConfig) (*HAProxy, error) {
	h := &HAProxy{Dir: cfg.Dir, Backend: cfg.Backend}
	if h.Backend == "" {
		h.Backend = "app"
	}
	if cfg.Weight == 0 {
		cfg.Weight = 10
	}
	if h.Dir == "" {
		d, err := os.MkdirTemp("", "zdu-haproxy-")
		if err != nil {
			return nil, fmt.Errorf("haproxy temp dir: %w", err)
		}
		h.Dir, h.ownDir = d, true
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
	// tests count it, and never be hidden by a retry on another server.
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
	p, err := startProcess("haproxy "+h.Config, HAProxyPath, "-db", "-f", h.Config)
	if err != nil {
		return nil, h.fail(err)
	}
	h.p = p
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err = p.waitReady(rctx, func(ctx context.Context) error {
		if _, err := h.Command(ctx, "show cli level"); err != nil {
			return err
		}
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", strings.TrimPrefix(h.URL, "http://"))
		if err != nil {
			return err
		}
		return c.Close()
	})
	if err != nil {
		return nil, h.fail(err)
	}
	return h, nil
}

func (h *HAProxy) fail(err error) error {
	_ = h.Close()
	return err
}

// MustHAProxy starts HAProxy for a test (skipped when HAProxy is missing) and
// stops it when the test ends.
func MustHAProxy(t T, cfg HAProxyConfig) *HAProxy {
	t.Helper()
	Need(t, HAProxyPath, "haproxy")
	h, err := StartHAProxy(context.Background(), cfg)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// Close stops HAProxy and removes its temp dir.
func (h *HAProxy) Close() error {
	if h.p != nil {
		_ = h.p.stop(syscall.SIGTERM)
	}
	if h.ownDir {
		return os.RemoveAll(h.Dir)
	}
	return nil
}

// Pid is HAProxy's process id.
func (h *HAProxy) Pid() int { return h.p.Pid() }

// Output is what HAProxy printed.
func (h *HAProxy) Output() string { return h.p.Output() }

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

// Counters are HAProxy's own failure counters, summed over the backend row:
// 5xx answers, response errors, retries and redispatches. A retry or a
// redispatch that hid a failure from the client still shows here.
type Counters struct {
	Hrsp5xx, Eresp, Econ, Wretr, Wredis int64
}

// Counters reads the backend's failure counters.
func (h *HAProxy) Counters(ctx context.Context) (Counters, error) {
	st, err := h.Stats(ctx)
	if err != nil {
		return Counters{}, err
	}
	r, ok := st.Find(h.Backend, "BACKEND")
	if !ok {
		return Counters{}, fmt.Errorf("haproxy %s: no BACKEND row for %s", h.Socket, h.Backend)
	}
	return Counters{
		Hrsp5xx: r.Int("hrsp_5xx"), Eresp: r.Int("eresp"), Econ: r.Int("econ"),
		Wretr: r.Int("wretr"), Wredis: r.Int("wredis"),
	}, nil
}
