package sandbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/zdu-dev/zdu/steps/lb/loopback"
	"github.com/zdu-dev/zdu/steps/transport"
	"golang.org/x/crypto/ssh"
)

// Load balancer drivers the sandbox runs for real.
const (
	DriverHAProxy = "haproxy"
	DriverNginx   = "nginx"
)

// MaxLBInstances bounds the instances of the sandbox's load balancer.
const MaxLBInstances = 4

// LBHostName is the sandbox node through which the nginx instances are
// edited and reloaded (their via): commands that need sudo meet the
// sandbox's sudo stand-in there, never this machine's sudo.
const LBHostName = "zdu-lb-host"

// ErrNoNginx is returned (wrapped) when the nginx binary is missing.
var ErrNoNginx = errors.New("nginx is not installed")

// checkLBBinary says how to install the load balancer the sandbox needs.
func checkLBBinary(driver string) error {
	switch driver {
	case DriverNginx:
		if _, err := os.Stat(loopback.NginxPath); err != nil {
			return fmt.Errorf("sandbox: %w (no %s); install it: apt-get install nginx", ErrNoNginx, loopback.NginxPath)
		}
	default:
		if _, err := os.Stat(loopback.HAProxyPath); err != nil {
			return fmt.Errorf("sandbox: %w (no %s); install it: apt-get install haproxy", ErrNoHAProxy, loopback.HAProxyPath)
		}
	}
	return nil
}

// startLBs starts the load balancer's instances in front of backends, and,
// with more than one, the address in front of them all (a virtual IP, as
// keepalived gives a pair) where the probe sends, each request to the next
// instance in turn.
func (s *Sandbox) startLBs(ctx context.Context, backends []*loopback.Backend, pub ssh.PublicKey) error {
	n := max(s.cfg.LBInstances, 1)
	var urls []string
	for i := range n {
		dir := filepath.Join(s.Dir, fmt.Sprintf("%s-%d", s.cfg.LBDriver, i+1))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
		switch s.cfg.LBDriver {
		case DriverNginx:
			ng, err := loopback.StartNginx(ctx, loopback.NginxConfig{Upstream: s.cfg.Backend, Servers: backends, Dir: dir,
				NoClientKeepalive: true})
			if err != nil {
				return fmt.Errorf("sandbox: starting nginx: %w", err)
			}
			s.Nginx = append(s.Nginx, ng)
			urls = append(urls, ng.URL)
		default:
			h, err := loopback.StartHAProxy(ctx, loopback.HAProxyConfig{
				Backend: s.cfg.Backend, Servers: backends, Check: true, Dir: dir})
			if err != nil {
				return fmt.Errorf("sandbox: starting HAProxy: %w", err)
			}
			s.HAProxies = append(s.HAProxies, h)
			urls = append(urls, h.URL)
		}
	}
	if len(s.HAProxies) > 0 {
		s.HAProxy = s.HAProxies[0]
	}
	if s.cfg.LBDriver == DriverNginx {
		if err := s.startLBHost(ctx, pub); err != nil {
			return err
		}
	}
	if len(urls) == 1 {
		s.URL = urls[0]
		return nil
	}
	return s.startVIP(urls)
}

// startLBHost starts the SSH node the nginx instances are reached through.
func (s *Sandbox) startLBHost(ctx context.Context, pub ssh.PublicKey) error {
	l := NewLayout(filepath.Join(s.Dir, LBHostName))
	if err := WriteStandIns(l, s.cfg.OldVersion, s.cfg.NewVersion); err != nil {
		return err
	}
	h, err := StartSSH(ctx, NodeConfig{Name: LBHostName, Root: l.Root, AuthorizedKey: pub, User: s.User,
		Env: map[string]string{"PATH": l.Bin + ":" + os.Getenv("PATH")}})
	if err != nil {
		return err
	}
	s.lbHost, s.lbHostLayout = h, l
	return nil
}

// startVIP serves the address in front of several instances.
func (s *Sandbox) startVIP(urls []string) error {
	var targets []*url.URL
	for _, u := range urls {
		t, err := url.Parse(u)
		if err != nil {
			return err
		}
		targets = append(targets, t)
	}
	var next atomic.Uint64
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(targets[int(next.Add(1)-1)%len(targets)])
			r.Out.Header["X-Forwarded-For"] = r.In.Header["X-Forwarded-For"]
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("sandbox: the address in front of the load balancers: %w", err)
	}
	s.vip = &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.vip.Serve(ln) }()
	s.URL = "http://" + ln.Addr().String()
	return nil
}

// closeLBs stops the address in front, the instances and the LB host.
func (s *Sandbox) closeLBs() []error {
	var errs []error
	for _, ln := range s.refusers {
		_ = ln.Close()
	}
	s.refusers = nil
	if s.vip != nil {
		errs = append(errs, s.vip.Close())
		s.vip = nil
	}
	for _, h := range s.HAProxies {
		errs = append(errs, h.Close())
	}
	for _, n := range s.Nginx {
		errs = append(errs, n.Close())
	}
	s.HAProxies, s.Nginx, s.HAProxy = nil, nil, nil
	if s.lbHost != nil {
		errs = append(errs, s.lbHost.Close(), KillDaemons(s.lbHostLayout))
		s.lbHost = nil
	}
	return errs
}

// lbInventory is the inventory's load balancer: the instances the sandbox
// runs, with the driver's own keys.
func (s *Sandbox) lbInventory(servers map[string]string) invLB {
	l := invLB{Driver: s.cfg.LBDriver, Backend: s.cfg.Backend, MinHealthy: s.minHealthy(), Servers: servers}
	for i, h := range s.HAProxies {
		// No via: the socket is on the control node, this machine.
		l.Instances = append(l.Instances, invLBInstance{Name: fmt.Sprintf("haproxy-%d", i+1), Socket: h.Socket})
	}
	for i, n := range s.Nginx {
		// The test fails while the instance refuses (--fail INSTANCE:refuse).
		f := transport.Quote(filepath.Join(n.Dir, refuseFile))
		test := "if test -e " + f + "; then : >> " + f + ".fired; echo 'sandbox: this nginx refuses (--fail " +
			fmt.Sprintf("nginx-%d", i+1) + ":refuse)' >&2; exit 1; fi; " + n.TestCmd
		l.Instances = append(l.Instances, invLBInstance{Name: fmt.Sprintf("nginx-%d", i+1), Via: LBHostName,
			Upstream: n.UpstreamFile, Test: test, Reload: n.ReloadCmd})
	}
	if len(s.HAProxies) == 1 {
		l.Instances[0].Name = "haproxy" // as before instances were counted
	}
	return l
}

// LBInstanceNames are the names the generated inventory gives the load
// balancer's instances.
func LBInstanceNames(cfg Config) []string {
	n, driver := max(cfg.LBInstances, 1), cmp.Or(cfg.LBDriver, DriverHAProxy)
	if driver == DriverHAProxy && n == 1 {
		return []string{"haproxy"}
	}
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", driver, i+1)
	}
	return out
}

// refuseFile, in an nginx instance's directory, fails its test command.
const refuseFile = "refuse"

// refuse makes the load balancer instance named name refuse commands.
func (s *Sandbox) refuse(name string) error {
	i := slices.Index(LBInstanceNames(s.cfg), name)
	switch {
	case i < 0:
		return fmt.Errorf("--fail %s:%s: no load balancer instance %q in the sandbox", name, RefuseFault, name)
	case i < len(s.HAProxies):
		return s.refuseHAProxy(name, s.HAProxies[i].Socket)
	case i < len(s.Nginx):
		return os.WriteFile(filepath.Join(s.Nginx[i].Dir, refuseFile), nil, 0o644)
	}
	return fmt.Errorf("--fail %s:%s: the sandbox has no load balancer", name, RefuseFault)
}

// refuseHAProxy moves HAProxy's admin socket aside (HAProxy keeps serving
// traffic) and answers every command on its path "Permission denied", as
// a socket of too low a level does.
func (s *Sandbox) refuseHAProxy(name, sock string) error {
	if err := os.Rename(sock, sock+".real"); err != nil {
		return err
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return err
	}
	s.refusers = append(s.refusers, ln)
	count := new(atomic.Int64)
	if s.refusedCommands == nil {
		s.refusedCommands = map[string]*atomic.Int64{}
	}
	s.refusedCommands[name] = count
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			count.Add(1)
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 4096)
				_, _ = c.Read(buf)
				_, _ = c.Write([]byte("Permission denied\n\n"))
			}()
		}
	}()
	return nil
}

// refused reports whether the refusing instance named name was sent a
// command.
func (s *Sandbox) refused(name string) bool {
	i := slices.Index(LBInstanceNames(s.cfg), name)
	switch {
	case i < 0:
		return false
	case i < len(s.HAProxies):
		c := s.refusedCommands[name]
		return c != nil && c.Load() > 0
	case i < len(s.Nginx):
		_, err := os.Stat(filepath.Join(s.Nginx[i].Dir, refuseFile+".fired"))
		return err == nil
	}
	return false
}

// serverName is how the inventory's servers map names a node's server:
// HAProxy by name, nginx by address.
func (s *Sandbox) serverName(n *Node) string {
	if s.cfg.LBDriver == DriverNginx {
		return n.Service.Addr()
	}
	return n.Spec.Name
}
