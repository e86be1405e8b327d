// Package loopback starts real load balancer parts on this machine, every
// one listening on 127.0.0.1 only: HAProxy (master-less, its runtime API on
// admin-, operator- and user-level unix sockets, optionally on a loopback TCP
// port too), nginx (its own prefix and config, an included upstream file),
// and small versioned HTTP backends that shut down gracefully, like a
// service restarted during an upgrade. The rehearsal sandbox (zdu rehearse)
// runs plans against them; tests start them through package lbtest. Every
// Start function returns an error and a value to Close.
package loopback

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Backend is a versioned HTTP service on 127.0.0.1. Every request but
// /health answers "NAME VERSION\n" after the current delay; /health answers
// 200 or 503 after its own delay (none unless set). Stop shuts it down gracefully (in-flight requests end
// first) and Start brings it back on the same address, like a service
// restart during an upgrade.
type Backend struct {
	Name string

	mu      sync.Mutex
	version string
	delay   time.Duration
	sick    bool
	addr    string
	srv     *http.Server
	done    chan struct{}

	// release ends the delay of the requests waiting now (Release).
	release chan struct{}
	// balanced counts, by version, the requests answered that came through
	// a load balancer (Balanced).
	balanced map[string]int64

	// healthDelay slows /health down; healthChecks counts the /health
	// requests received, each with the healthDelay of its arrival (both
	// under mu).
	healthDelay  time.Duration
	healthChecks int64
	// healthPath also answers as /health does (SetHealthPath).
	healthPath string

	// errorRate is the share of requests answered 500 (a bad version),
	// spread evenly: request n fails when floor(n*rate) grows; requests
	// counts them (both under mu).
	errorRate float64
	requests  int64

	inFlight, served, aborted atomic.Int64
}

// NewBackend starts a backend on a free loopback port.
func NewBackend(name, version string) (*Backend, error) {
	b := &Backend{Name: name, version: version, release: make(chan struct{}), balanced: map[string]int64{}}
	if err := b.listen("127.0.0.1:0"); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *Backend) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("backend %s: listening on %s: %w", b.Name, addr, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(b.serve), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	b.mu.Lock()
	b.addr, b.srv, b.done = ln.Addr().String(), srv, done
	b.mu.Unlock()
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return nil
}

func (b *Backend) serve(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	version, delay, sick, healthDelay, release := b.version, b.delay, b.sick, b.healthDelay, b.release
	fail := false
	// "/" as the health path is every request's path: it fails only
	// while the backend is sick, and is otherwise served as any request.
	isHealth := r.URL.Path == "/health" || b.healthPath != "" && r.URL.Path == b.healthPath && (b.healthPath != "/" || sick)
	if isHealth {
		b.healthChecks++
	} else if b.errorRate > 0 {
		b.requests++
		fail = int64(float64(b.requests)*b.errorRate) > int64(float64(b.requests-1)*b.errorRate)
	}
	b.mu.Unlock()
	// Which server answered: the probe attributes responses to backends.
	w.Header().Set("X-Served-By", b.Name)
	if isHealth {
		if healthDelay > 0 {
			t := time.NewTimer(healthDelay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			}
		}
		if sick {
			http.Error(w, "unhealthy", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "ok %s %s\n", b.Name, version)
		return
	}
	if d, err := time.ParseDuration(r.URL.Query().Get("delay")); err == nil {
		delay = d
	}
	b.inFlight.Add(1)
	defer b.inFlight.Add(-1)
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-release:
		case <-r.Context().Done():
			// The client (the load balancer) gave up on this request.
			b.aborted.Add(1)
			return
		}
	}
	b.served.Add(1)
	if fail {
		http.Error(w, b.Name+" "+version+": internal error (injected)", http.StatusInternalServerError)
		return
	}
	if r.Header.Get("X-Forwarded-For") != "" {
		b.mu.Lock()
		b.balanced[version]++
		b.mu.Unlock()
	}
	fmt.Fprintf(w, "%s %s\n", b.Name, version)
}

// SetErrorRate makes that share (0-1) of later requests, spread evenly,
// answer 500, as a bad version does; /health is not affected.
func (b *Backend) SetErrorRate(rate float64) {
	b.mu.Lock()
	b.errorRate, b.requests = rate, 0
	b.mu.Unlock()
}

// Addr is the backend's host:port.
func (b *Backend) Addr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.addr
}

// URL is the backend's base URL.
func (b *Backend) URL() string { return "http://" + b.Addr() }

// SetDelay makes every later request take d.
func (b *Backend) SetDelay(d time.Duration) { b.mu.Lock(); b.delay = d; b.mu.Unlock() }

// Release ends the delay of every request waiting now: they answer at once.
// With SetDelay(time.Hour) a test holds requests in flight for as long as it
// needs, however slow the machine, and no longer.
func (b *Backend) Release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.release)
	b.release = make(chan struct{})
}

// SetVersion changes the version later answers report.
func (b *Backend) SetVersion(v string) { b.mu.Lock(); b.version = v; b.mu.Unlock() }

// SetHealthDelay makes every later /health request take d, as a backend on
// a loaded machine may.
func (b *Backend) SetHealthDelay(d time.Duration) { b.mu.Lock(); b.healthDelay = d; b.mu.Unlock() }

// HealthChecks is the number of /health requests received so far.
func (b *Backend) HealthChecks() int64 { b.mu.Lock(); defer b.mu.Unlock(); return b.healthChecks }

// SetHealthPath makes path a health path too: it answers as /health does
// (a path of "/" only while the backend is unhealthy).
func (b *Backend) SetHealthPath(path string) { b.mu.Lock(); b.healthPath = path; b.mu.Unlock() }

// SetHealthy makes /health answer 200 (true) or 503 (false).
func (b *Backend) SetHealthy(ok bool) { b.mu.Lock(); b.sick = !ok; b.mu.Unlock() }

// InFlight is the number of requests being answered now.
func (b *Backend) InFlight() int64 { return b.inFlight.Load() }

// Served is the number of requests answered completely.
func (b *Backend) Served() int64 { return b.served.Load() }

// Balanced is how many requests the backend answered through a load
// balancer (they carry X-Forwarded-For, which the harnesses' HAProxy and
// nginx add), by the version it answered with. Requests sent to it directly,
// such as a plan's health checks, are not in it.
func (b *Backend) Balanced() map[string]int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return maps.Clone(b.balanced)
}

// Aborted is the number of requests whose client went away before the answer.
func (b *Backend) Aborted() int64 { return b.aborted.Load() }

// Stop shuts the backend down gracefully: it stops accepting, lets in-flight
// requests finish, then returns.
func (b *Backend) Stop(ctx context.Context) error {
	srv, done := b.detach()
	if srv == nil {
		return nil
	}
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("backend %s: shutting down: %w", b.Name, err)
	}
	<-done
	return nil
}

// detach takes the running server (nil when stopped) and the channel closed
// when it has stopped serving.
func (b *Backend) detach() (*http.Server, chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	srv, done := b.srv, b.done
	b.srv = nil
	return srv, done
}

// Start listens again on the backend's address after Stop.
func (b *Backend) Start() error {
	b.mu.Lock()
	running, addr := b.srv != nil, b.addr
	b.mu.Unlock()
	if running {
		return errors.New("backend " + b.Name + " is already running")
	}
	return b.listen(addr)
}

// Restart is Stop then Start, a service restart.
func (b *Backend) Restart(ctx context.Context) error {
	if err := b.Stop(ctx); err != nil {
		return err
	}
	return b.Start()
}

// Close stops the backend at once.
func (b *Backend) Close() error {
	srv, done := b.detach()
	if srv == nil {
		return nil
	}
	err := srv.Close()
	<-done
	return err
}

// FreePort returns a port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
