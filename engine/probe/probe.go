// Package probe measures what an upgrade run costs the users of a service: an
// availability probe sends HTTP GET requests to one URL at a fixed rate for
// the whole run and reports how many failed, for how long the service was
// unavailable and how slow it answered.
//
// The probe is open loop: request i is sent at start+i/rate in a goroutine of
// its own, whatever happened to the earlier ones, so a backend that hangs
// shows as timeouts and latency instead of as fewer requests. Connections are
// kept alive like a real API client's.
//
// A request succeeds when it gets a status 200–399 (redirects are not
// followed) and its whole body is read within the timeout. Everything else
// fails, counted by a short, stable reason: the status code ("503"),
// "connection refused", "connection reset", "timeout", "eof", "cut body",
// "probe saturated" (the in-flight bound was reached, so it was never sent),
// "resent by the client" (Go's transport re-sent the GET on a new connection
// after its kept-alive one died; the retry hides exactly the failure a
// client without retries would see), or a short error text.
//
// The longest failure window is computed over the requests in send order: a
// failure window is a maximal run of consecutive failed requests; it lasts
// from the send time of its first request to the send time of the next
// request that succeeded, or, when the run reaches the end of the probe, to
// the time its last request ended. A single failed request between two good
// ones therefore counts as one send interval (1/rate). It is 0 when no
// request failed.
//
// Latency percentiles are nearest-rank over every request that was sent and
// ended (succeeded or not), in milliseconds.
package probe

import (
	"context"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults and limits of a Config.
const (
	DefaultRate    = 50.0
	MaxRate        = 5000.0
	DefaultTimeout = 2 * time.Second
	// minInFlight is the lowest in-flight bound, so a low rate with a short
	// timeout still has room for a backend that slows down.
	minInFlight = 64
)

// Config is what to probe and how hard.
type Config struct {
	// URL is an http:// or https:// URL.
	URL string
	// Rate is requests per second; 0 means DefaultRate.
	Rate float64
	// Timeout bounds one request, body included; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Probe is a running availability probe.
type Probe struct {
	cfg         Config
	start       time.Time
	client      *http.Client
	maxInFlight int64

	stop     chan struct{} // closed by Stop
	sendDone chan struct{} // closed when the sender has returned
	wg       sync.WaitGroup
	inFlight atomic.Int64
	samples  store // written by the sender; see store

	mu       sync.Mutex
	failures map[string]int64

	once   sync.Once
	result Result
}

// Start validates cfg and starts sending at once. Sending ends when Stop is
// called or ctx ends; requests in flight then run to their end or timeout.
func Start(ctx context.Context, cfg Config) (*Probe, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return start(ctx, cfg, inFlightBound(cfg)), nil
}

func (c Config) withDefaults() (Config, error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		return c, fmt.Errorf("probe URL %q: %w", c.URL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("probe URL %q: want an http:// or https:// URL with a host", c.URL)
	}
	switch {
	case c.Rate == 0:
		c.Rate = DefaultRate
	case math.IsNaN(c.Rate) || c.Rate < 0 || c.Rate > MaxRate:
		return c, fmt.Errorf("probe rate %v for %s: want 0 < rate <= %v requests per second", c.Rate, c.URL, MaxRate)
	}
	switch {
	case c.Timeout == 0:
		c.Timeout = DefaultTimeout
	case c.Timeout < 0:
		return c, fmt.Errorf("probe timeout %s for %s: want a positive duration", c.Timeout, c.URL)
	}
	return c, nil
}

// inFlightBound leaves room for half again as many requests as the rate
// keeps in flight when every one of them takes the whole timeout.
func inFlightBound(c Config) int64 {
	n := int64(math.Ceil(c.Rate * c.Timeout.Seconds() * 1.5))
	return max(n, minInFlight)
}

func start(ctx context.Context, cfg Config, maxInFlight int64) *Probe {
	p := &Probe{
		cfg:         cfg,
		client:      newClient(int(maxInFlight)),
		maxInFlight: maxInFlight,
		stop:        make(chan struct{}),
		sendDone:    make(chan struct{}),
		failures:    map[string]int64{},
	}
	p.start = time.Now()
	go p.send(ctx)
	return p
}

// Stop stops sending, waits for the requests in flight (each bounded by the
// timeout) and returns the figures. Later calls return the same figures.
func (p *Probe) Stop() Result {
	p.once.Do(func() {
		close(p.stop)
		<-p.sendDone
		d := time.Since(p.start)
		p.wg.Wait()
		p.client.CloseIdleConnections()
		p.result = p.compute(d)
	})
	r := p.result
	r.Failures = maps.Clone(r.Failures)
	return r
}

// fail counts a failed request's reason.
func (p *Probe) fail(reason string) {
	p.mu.Lock()
	p.failures[reason]++
	p.mu.Unlock()
}
