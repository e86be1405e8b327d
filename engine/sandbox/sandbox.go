package sandbox

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zdu-dev/zdu/steps/lb/loopback"
	"golang.org/x/crypto/ssh"
)

// NodeSpec is one node of the sandbox.
type NodeSpec struct {
	Name   string
	Groups []string
	// Vars are extra node variables (they win over the sandbox's own).
	Vars map[string]any
	// Unbalanced keeps the node's service out of HAProxy (e.g. a
	// controller that only runs maintenance commands).
	Unbalanced bool
}

// Failure makes one stand-in step fail on one node (see the failure keys
// in standins.go: apply, restart, upgrade, ...).
type Failure struct {
	Node, Step string
	ExitCode   int
	// A bad new version (Step "version"): once the node's service runs a
	// version other than the old one, ErrorRate of its requests answer
	// 500 and each takes Latency longer. Fault is how it was written.
	ErrorRate float64
	Latency   time.Duration
	Fault     string
	// Startup (Step "startup") is how long the node's service takes to
	// start after a stop; After (Step "ssh") how many commands its SSH
	// server answers before it goes down.
	Startup time.Duration
	After   int
}

// ParseFailure reads "NODE:STEP" or "NODE:STEP:CODE" (default code 1), the
// form of rehearse's --fail flag; or a bad new version,
// "NODE:version=errors:5%" or "NODE:version=latency:300ms"; or a new
// version whose health check fails, "NODE:health". standIns are the
// failure keys a rehearsal file adds (its stand-ins' names).
func ParseFailure(s string, standIns ...string) (Failure, error) {
	parts := strings.Split(s, ":")
	if len(parts) == 3 && strings.HasPrefix(parts[1], "version=") && parts[0] != "" {
		return parseVersionFault(s, parts[0], strings.TrimPrefix(parts[1], "version="), parts[2])
	}
	if len(parts) == 2 && parts[0] != "" && parts[1] == RefuseFault {
		return Failure{Node: parts[0], Step: RefuseFault, Fault: RefuseFault}, nil
	}
	if len(parts) == 2 && parts[0] != "" && parts[1] == HealthFault {
		return Failure{Node: parts[0], Step: HealthFault, Fault: HealthFault}, nil
	}
	if len(parts) == 2 && parts[0] != "" && strings.HasPrefix(parts[1], "startup=") {
		d, err := time.ParseDuration(strings.TrimPrefix(parts[1], "startup="))
		if err != nil || d <= 0 || d > maxFaultStartup {
			return Failure{}, fmt.Errorf("--fail %q: startup wants a duration over 0 and at most %s, such as 40s", s, maxFaultStartup)
		}
		return Failure{Node: parts[0], Step: "startup", Fault: parts[1], Startup: d}, nil
	}
	if len(parts) == 3 && parts[0] != "" && parts[1] == "ssh=after" {
		n, err := strconv.Atoi(parts[2])
		if err != nil || n < 0 || n > 10000 {
			return Failure{}, fmt.Errorf("--fail %q: ssh=after wants a count of commands, 0 to 10000, such as ssh=after:3", s)
		}
		return Failure{Node: parts[0], Step: "ssh", Fault: "ssh=after:" + parts[2], After: n}, nil
	}
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return Failure{}, fmt.Errorf("--fail %q: want NODE:STEP or NODE:STEP:EXITCODE (e.g. Node-B:apply), NODE:health, NODE:startup=40s, NODE:ssh=after:3, or NODE:version=errors:5%% or NODE:version=latency:300ms", s)
	}
	f := Failure{Node: parts[0], Step: parts[1], ExitCode: 1}
	if !slices.Contains(standIns, f.Step) {
		if err := CheckFailureKey(f.Step, standIns...); err != nil {
			return Failure{}, fmt.Errorf("--fail %q: %w", s, err)
		}
	}
	if len(parts) == 3 {
		c, err := strconv.Atoi(parts[2])
		if err != nil || c < 1 || c > 255 {
			return Failure{}, fmt.Errorf("--fail %q: exit code %q is not 1-255", s, parts[2])
		}
		f.ExitCode = c
	}
	return f, nil
}

// HealthFault is --fail NODE:health: once the node runs a version other
// than the old one, its health path answers 503 (the old version heals it).
const HealthFault = "health"

// RefuseFault is --fail INSTANCE:refuse: that load balancer instance
// refuses every command (HAProxy: its admin socket is gone; nginx: its
// configuration test fails).
const RefuseFault = "refuse"

// maxFaultStartup bounds an injected slow start.
const maxFaultStartup = 10 * time.Minute

// maxFaultLatency bounds an injected latency: past the probe's timeout
// every request fails anyway.
const maxFaultLatency = time.Minute

func parseVersionFault(s, node, kind, value string) (Failure, error) {
	f := Failure{Node: node, Step: "version", Fault: kind + ":" + value}
	switch kind {
	case "errors":
		pct, err := strconv.ParseFloat(strings.TrimSuffix(value, "%"), 64)
		if err != nil || !strings.HasSuffix(value, "%") || !(pct > 0 && pct <= 100) {
			return Failure{}, fmt.Errorf("--fail %q: errors wants a percentage over 0 and at most 100, such as 5%%", s)
		}
		f.ErrorRate = pct / 100
	case "latency":
		d, err := time.ParseDuration(value)
		if err != nil || d <= 0 || d > maxFaultLatency {
			return Failure{}, fmt.Errorf("--fail %q: latency wants a duration over 0 and at most %s, such as 300ms", s, maxFaultLatency)
		}
		f.Latency = d
	default:
		return Failure{}, fmt.Errorf("--fail %q: a bad version is version=errors:PERCENT or version=latency:DURATION, not %q", s, kind)
	}
	return f, nil
}

// Config shapes a sandbox.
type Config struct {
	Nodes []NodeSpec
	// Backend is HAProxy's backend name (default "app"); LoadBalancer the
	// logical name plans use for it (default: Backend).
	Backend, LoadBalancer string
	// LBDriver is the load balancer's driver, haproxy (default) or nginx;
	// LBInstances how many instances it has (0: 1).
	LBDriver    string
	LBInstances int
	// MinHealthy is the load balancer's minHealthy in the inventory: a
	// count, or with MinHealthyPercent a percentage.
	MinHealthy        int
	MinHealthyPercent bool
	// OldVersion and NewVersion are what services answer before and after
	// the upgrade (default "v1", "v2").
	OldVersion, NewVersion string
	// Vars are inventory-wide variables (cass_host is 127.0.0.1 already).
	Vars map[string]any
	Fail []Failure
	// Startup is how long a node's service takes to start after a stop
	// (0: DefaultStartup; negative: at once).
	Startup time.Duration
	// Rehearsal is the plan's rehearsal file (nil: DefaultRehearsal).
	Rehearsal *Rehearsal
	// Dir holds everything; default: a new temp dir removed by Close.
	Dir string
}

// Node is one running sandbox node.
type Node struct {
	Spec    NodeSpec
	SSH     *SSHNode
	Service *Service
	Layout  Layout
}

// Sandbox is a running local environment shaped like a plan's groups.
type Sandbox struct {
	Dir string
	// Inventory is the generated inventory file to run the plan with.
	Inventory string
	// ClientKey and KnownHosts are the files the inventory names.
	ClientKey, KnownHosts string
	Nodes                 []*Node
	// HAProxy is the first of HAProxies, the HAProxy instances (none
	// with the nginx driver); Nginx the nginx instances.
	HAProxy   *loopback.HAProxy
	HAProxies []*loopback.HAProxy
	Nginx     []*loopback.Nginx
	// URL is where the live traffic goes: the load balancer's frontend,
	// or with several instances an address that sends each request to
	// the next one.
	URL string

	// User is the user name every node accepts (the current user).
	User string
	// RunsAs is who the nodes' commands run as: UnprivilegedUser when zdu
	// runs as root and that user can reach the sandbox, else User;
	// RunsAsWhy says why not, when zdu is root.
	RunsAs, RunsAsWhy string
	cred              *syscall.Credential

	cfg          Config
	lbHost       *SSHNode
	lbHostLayout Layout
	vip          *http.Server
	// refusers answer on refusing HAProxy instances' admin sockets;
	// refusedCommands counts the connections each refused, by instance.
	refusers        []net.Listener
	refusedCommands map[string]*atomic.Int64
	ownDir          bool
	owner           *os.File // flock held while this process owns the sandbox
}

// ErrNoHAProxy is returned (wrapped) when the HAProxy binary is missing.
var ErrNoHAProxy = errors.New("HAProxy is not installed")

// Start builds the sandbox: per node a root with stand-ins, a service and
// an SSH server; HAProxy in front of the services; the inventory.
func Start(ctx context.Context, cfg Config) (_ *Sandbox, err error) {
	if len(cfg.Nodes) == 0 {
		return nil, errors.New("sandbox: no nodes")
	}
	cfg = withDefaults(cfg)
	if err := checkLBBinary(cfg.LBDriver); err != nil {
		return nil, err
	}
	s := &Sandbox{Dir: cfg.Dir, cfg: cfg}
	if s.Dir == "" {
		if s.Dir, err = os.MkdirTemp("", "zdu-sandbox-"); err != nil {
			return nil, fmt.Errorf("sandbox temp dir: %w", err)
		}
		s.ownDir = true
	}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	if s.owner, err = holdOwner(s.Dir); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if u, uerr := user.Current(); uerr == nil {
		s.User = u.Username
	} else {
		return nil, fmt.Errorf("sandbox: current user: %w", uerr)
	}
	s.RunsAs = s.User
	if s.cred, s.RunsAsWhy = runAs(s.Dir); s.cred != nil {
		// Others may pass through (to their node's directory), not list.
		if err := os.Chmod(s.Dir, 0o711); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
		s.RunsAs = UnprivilegedUser
	}
	pub, err := s.writeClientKey()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, spec := range cfg.Nodes {
		if spec.Name == "" || seen[spec.Name] || strings.ContainsAny(spec.Name, "/ \x00") || spec.Name == LBHostName {
			return nil, fmt.Errorf("sandbox: node name %q is empty, repeated, %s, or holds / or a space", spec.Name, LBHostName)
		}
		seen[spec.Name] = true
		n, err := s.startNode(ctx, spec, pub)
		if n != nil {
			s.Nodes = append(s.Nodes, n) // even half-started, so Close ends it
		}
		if err != nil {
			return nil, err
		}
	}
	if err := s.injectFailures(); err != nil {
		return nil, err
	}
	var backends []*loopback.Backend
	for _, n := range s.Nodes {
		if !n.Spec.Unbalanced {
			backends = append(backends, n.Service.Backend)
		}
	}
	if len(backends) > 0 {
		if err := s.startLBs(ctx, backends, pub); err != nil {
			return nil, err
		}
	}
	for _, f := range cfg.Fail {
		if f.Step == RefuseFault {
			if err := s.refuse(f.Node); err != nil {
				return nil, err
			}
		}
	}
	var lines []string
	for _, n := range s.Nodes {
		lines = append(lines, n.SSH.KnownHostsLine())
	}
	if s.lbHost != nil {
		lines = append(lines, s.lbHost.KnownHostsLine())
	}
	s.KnownHosts = filepath.Join(s.Dir, "known_hosts")
	if err := os.WriteFile(s.KnownHosts, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("writing %s: %w", s.KnownHosts, err)
	}
	s.Inventory = filepath.Join(s.Dir, "inventory.yaml")
	if err := s.writeInventory(s.Inventory); err != nil {
		return nil, err
	}
	return s, nil
}

func withDefaults(cfg Config) Config {
	if cfg.Backend == "" {
		cfg.Backend = "app"
	}
	if cfg.LoadBalancer == "" {
		cfg.LoadBalancer = cfg.Backend
	}
	if cfg.Rehearsal == nil {
		cfg.Rehearsal = DefaultRehearsal()
	}
	if cfg.OldVersion == "" {
		cfg.OldVersion = cmp.Or(cfg.Rehearsal.OldVersion, "v1")
	}
	if cfg.NewVersion == "" {
		cfg.NewVersion = cmp.Or(cfg.Rehearsal.NewVersion, "v2")
	}
	if cfg.Startup == 0 {
		cfg.Startup = DefaultStartup
	}
	if cfg.LBDriver == "" {
		cfg.LBDriver = DriverHAProxy
	}
	return cfg
}

// writeClientKey creates the key every node authorizes.
func (s *Sandbox) writeClientKey() (ssh.PublicKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sandbox client key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "zdu-sandbox")
	if err != nil {
		return nil, fmt.Errorf("sandbox client key: %w", err)
	}
	s.ClientKey = filepath.Join(s.Dir, "id_ed25519")
	if err := os.WriteFile(s.ClientKey, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, fmt.Errorf("writing %s: %w", s.ClientKey, err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("sandbox client key: %w", err)
	}
	return signer.PublicKey(), nil
}

// startNode lays out the node's root, starts its service with the old
// install's processes running (as on a production node before the
// upgrade), then its SSH server.
func (s *Sandbox) startNode(ctx context.Context, spec NodeSpec, pub ssh.PublicKey) (*Node, error) {
	l := NewLayout(filepath.Join(s.Dir, "nodes", spec.Name))
	n := &Node{Spec: spec, Layout: l}
	if err := WriteStandIns(l, s.cfg.OldVersion, s.cfg.NewVersion); err != nil {
		return nil, err
	}
	if s.cred != nil {
		if err := giveTo(l.Root, s.cred); err != nil {
			return nil, fmt.Errorf("node %s: handing its directory to %s: %w", spec.Name, s.RunsAs, err)
		}
	}
	svc, err := StartService(ctx, spec.Name, s.cfg.OldVersion, l.ControlDir(), s.cfg.Startup)
	if err != nil {
		return nil, err
	}
	n.Service = svc
	svc.Backend.SetHealthPath(s.cfg.Rehearsal.HealthPath)
	posix := filepath.Join(l.OldInstall, "apigateway", "posix", "bin")
	for _, c := range [][]string{
		{filepath.Join(posix, "nodemanager"), "-d"},
		{filepath.Join(posix, "startinstance"), "-n", spec.Name, "-g", "sandbox", "-d"},
	} {
		cmd := exec.CommandContext(ctx, c[0], c[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
		if out, err := cmd.CombinedOutput(); err != nil {
			return n, fmt.Errorf("node %s: starting the old install (%s): %w: %s", spec.Name, c[0], err, out)
		}
	}
	n.SSH, err = StartSSH(ctx, NodeConfig{Name: spec.Name, Root: l.Root, AuthorizedKey: pub, User: s.User,
		Env:    map[string]string{"PATH": l.Bin + ":" + os.Getenv("PATH")},
		Policy: &nodePolicy{r: s.cfg.Rehearsal, n: n, s: s}, Credential: s.cred})
	if err != nil {
		return n, err
	}
	return n, nil
}

func (s *Sandbox) injectFailures() error {
	for _, f := range s.cfg.Fail {
		if f.Step == RefuseFault {
			continue // once the load balancer runs: refuseInstances
		}
		n := s.Node(f.Node)
		if n == nil {
			return fmt.Errorf("--fail %s:%s: no node %q in the sandbox", f.Node, f.Step, f.Node)
		}
		if f.Step == "version" {
			n.Service.SetBadVersion(s.cfg.OldVersion, f.ErrorRate, f.Latency)
			continue
		}
		if f.Step == HealthFault {
			n.Service.SetBadHealth(s.cfg.OldVersion)
			continue
		}
		if f.Step == "startup" {
			n.Service.SetStartup(f.Startup, s.cfg.OldVersion)
			continue
		}
		if f.Step == "ssh" {
			n.SSH.DownAfter(f.After)
			continue
		}
		if err := InjectFailure(n.Layout, f.Step, f.ExitCode); err != nil {
			return fmt.Errorf("node %s: %w", f.Node, err)
		}
	}
	return nil
}

// Node returns the node named name, or nil.
func (s *Sandbox) Node(name string) *Node {
	for _, n := range s.Nodes {
		if n.Spec.Name == name {
			return n
		}
	}
	return nil
}

// Observe asks every node's service what it runs now (see
// Service.Observe), by node name.
func (s *Sandbox) Observe(ctx context.Context) map[string]Observation {
	m := map[string]Observation{}
	for _, n := range s.Nodes {
		m[n.Spec.Name] = n.Service.Observe(ctx)
	}
	return m
}

// Close tears everything down: HAProxy, SSH servers (killing running
// commands), stand-in daemons, services, and the temp dir if it made one.
func (s *Sandbox) Close() error {
	errs := s.closeLBs()
	for _, n := range s.Nodes {
		if n.SSH != nil {
			errs = append(errs, n.SSH.Close())
		}
		errs = append(errs, KillDaemons(n.Layout))
		if n.Service != nil {
			errs = append(errs, n.Service.Close())
		}
	}
	s.Nodes = nil
	if s.ownDir {
		errs = append(errs, os.RemoveAll(s.Dir))
		s.ownDir = false
	}
	if s.owner != nil {
		errs = append(errs, s.owner.Close())
		s.owner = nil
	}
	return errors.Join(errs...)
}
