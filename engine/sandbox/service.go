package sandbox

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zdu-dev/zdu/steps/lb/loopback"
)

// Service is a node's versioned HTTP service (a loopback.Backend: every path
// answers "NODE VERSION", /health 200 while up) that the node's stand-in
// product commands start, stop and restart. They cannot call into this
// process, so they drop request files in the node's control directory and
// wait for the answer file; Service polls that directory. Plain files keep
// the stand-ins free of any tool a node might lack (curl, socat).
type Service struct {
	Node    string
	Backend *loopback.Backend
	// ControlDir is where stand-ins write "ID.req" (one line: "start
	// VERSION", "stop" or "restart VERSION") and find "ID.res" ("0" or
	// "1 reason").
	ControlDir string

	// startup is how long a stopped service takes to come up again.
	startup time.Duration

	mu      sync.Mutex
	version string
	running bool
	// bad is the injected bad version (SetBadVersion); badServed whether
	// the service ever ran it.
	bad       *badVersion
	badServed bool
	// slowStart is an injected startup (SetStartup); slowStarted whether a
	// start took it.
	slowStart   time.Duration
	slowOld     string
	slowStarted bool

	cancel context.CancelFunc
	done   chan struct{}
	// life ends with Close: a slow start pending then never happens.
	life context.Context
}

// pollInterval is how often the control directory is read: short enough
// to add nothing visible to a step, cheap for a few nodes.
const pollInterval = 20 * time.Millisecond

// stopTimeout bounds a graceful stop (in-flight requests finishing).
const stopTimeout = 30 * time.Second

// DefaultStartup is how long a sandbox service takes to start after a stop,
// as a real one does: without a drain, that is the downtime a probe sees.
const DefaultStartup = 500 * time.Millisecond

// StartService starts node's service, up at version, controlled through
// controlDir (created if needed). A later start after a stop takes startup.
func StartService(ctx context.Context, node, version, controlDir string, startup time.Duration) (*Service, error) {
	if err := os.MkdirAll(controlDir, 0o755); err != nil {
		return nil, fmt.Errorf("service of node %s: %w", node, err)
	}
	b, err := loopback.NewBackend(node, version)
	if err != nil {
		return nil, fmt.Errorf("service of node %s: %w", node, err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	s := &Service{Node: node, Backend: b, ControlDir: controlDir, version: version, running: true,
		startup: startup, cancel: cancel, done: make(chan struct{}), life: lctx}
	go s.loop(lctx)
	return s, nil
}

// Addr is the service's 127.0.0.1:PORT (the same across restarts).
func (s *Service) Addr() string { return s.Backend.Addr() }

// Port is the service's port.
func (s *Service) Port() int {
	_, port, _ := net.SplitHostPort(s.Addr())
	p, _ := strconv.Atoi(port)
	return p
}

// Version is the version the service answers with (or last did).
func (s *Service) Version() string { s.mu.Lock(); defer s.mu.Unlock(); return s.version }

// Running says whether the service is up.
func (s *Service) Running() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.running }

func (s *Service) loop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ents, err := os.ReadDir(s.ControlDir)
		if err != nil {
			continue
		}
		var reqs []string
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".req") {
				reqs = append(reqs, e.Name())
			}
		}
		sort.Strings(reqs)
		for _, name := range reqs {
			s.handle(ctx, name)
		}
	}
}

func (s *Service) handle(ctx context.Context, name string) {
	path := filepath.Join(s.ControlDir, name)
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	_ = os.Remove(path)
	answer := "0"
	if err := s.Do(ctx, strings.TrimSpace(string(b))); err != nil {
		answer = "1 " + strings.ReplaceAll(err.Error(), "\n", " ")
	}
	res := filepath.Join(s.ControlDir, strings.TrimSuffix(name, ".req")+".res")
	// Written whole, then renamed: the stand-in never reads half an answer.
	if os.WriteFile(res+".tmp", []byte(answer+"\n"), 0o644) == nil {
		_ = os.Rename(res+".tmp", res)
	}
}

// Do runs one control command: "start VERSION", "stop", "restart VERSION"
// or "status".
func (s *Service) Do(ctx context.Context, line string) error {
	f := strings.Fields(line)
	if len(f) == 0 {
		return fmt.Errorf("service of node %s: empty control command", s.Node)
	}
	switch {
	case f[0] == "stop" && len(f) == 1:
		return s.stop(ctx)
	case f[0] == "start" && len(f) == 2:
		return s.start(ctx, f[1])
	case f[0] == "restart" && len(f) == 2:
		if err := s.stop(ctx); err != nil {
			return err
		}
		return s.start(ctx, f[1])
	case f[0] == "status" && len(f) == 1:
		if !s.Running() {
			return fmt.Errorf("service of node %s is stopped", s.Node)
		}
		return nil
	}
	return fmt.Errorf("service of node %s: unknown control command %q", s.Node, line)
}

func (s *Service) stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, stopTimeout)
	defer cancel()
	if err := s.Backend.Stop(ctx); err != nil {
		return err
	}
	s.running = false
	return nil
}

func (s *Service) start(ctx context.Context, version string) error {
	s.mu.Lock()
	startup, slow := s.startup, s.slowStart > 0 && version != s.slowOld
	if slow {
		startup = s.slowStart
	}
	s.mu.Unlock()
	if slow && !s.Running() {
		// An injected slow start: the command that starts the service
		// returns at once (a unit whose start returns before its service
		// listens); the port opens once the startup has passed.
		s.mu.Lock()
		s.slowStarted = true
		s.mu.Unlock()
		go func() {
			t := time.NewTimer(startup)
			defer t.Stop()
			select {
			case <-s.life.Done():
			case <-t.C:
				_ = s.up(version)
			}
		}()
		return nil
	}
	if !s.Running() && startup > 0 {
		// Starting up: the port stays closed meanwhile.
		t := time.NewTimer(startup)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("service of node %s: %w", s.Node, ctx.Err())
		case <-t.C:
		}
	}
	return s.up(version)
}

// up starts the service at version (at once).
func (s *Service) up(version string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.life.Err() != nil {
		return fmt.Errorf("service of node %s is closed", s.Node)
	}
	s.Backend.SetVersion(version)
	s.version = version
	if s.bad != nil {
		if version != s.bad.old {
			s.Backend.SetErrorRate(s.bad.errorRate)
			s.Backend.SetDelay(s.bad.latency)
			s.badServed = true
		} else {
			s.Backend.SetErrorRate(0)
			s.Backend.SetDelay(0)
		}
		if s.bad.health {
			s.Backend.SetHealthy(version == s.bad.old)
		}
	}
	if s.running {
		return nil
	}
	if err := s.Backend.Start(); err != nil {
		return fmt.Errorf("service of node %s: %w", s.Node, err)
	}
	s.running = true
	return nil
}

type badVersion struct {
	old       string
	errorRate float64
	latency   time.Duration
	// health: its health path answers 503.
	health bool
}

// SetBadVersion makes every version but old a bad one: errorRate of its
// requests answer 500, each takes latency longer. Going back to old (a
// rollback) makes it good again.
func (s *Service) SetBadVersion(old string, errorRate float64, latency time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	health := s.bad != nil && s.bad.health
	s.bad = &badVersion{old: old, errorRate: errorRate, latency: latency, health: health}
}

// SetBadHealth makes every version but old unhealthy: its health path
// answers 503 while it runs. Going back to old heals it.
func (s *Service) SetBadHealth(old string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bad == nil {
		s.bad = &badVersion{old: old}
	}
	s.bad.health = true
}

// SetStartup makes every version but old slow to start: after a stop, the
// start returns at once and the port opens only d later. The old version
// (a rollback) starts as before.
func (s *Service) SetStartup(d time.Duration, old string) {
	s.mu.Lock()
	s.slowStart, s.slowOld = d, old
	s.mu.Unlock()
}

// SlowStarted reports whether a start took the injected startup.
func (s *Service) SlowStarted() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.slowStarted }

// SetHealthy makes the service's health path answer 200 (true) or 503.
func (s *Service) SetHealthy(ok bool) { s.Backend.SetHealthy(ok) }

// BadVersionServed reports whether the service ever ran the bad version.
func (s *Service) BadVersionServed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.badServed
}

// Close stops the control loop and the service at once.
func (s *Service) Close() error {
	s.cancel()
	<-s.done
	return s.Backend.Close()
}
