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
// Requests counts every scheduled request — sent, or counted as failed with
// reason "probe saturated" when the in-flight bound kept it from being sent.
//
// The longest failure window is computed over the requests in send order: a
// failure window is a maximal run of consecutive failed requests; it lasts
// from the send time of its first request to the send time of the next
// request that succeeded, or, when the run reaches the end of the probe, to
// the time the last of its requests ended (the latest end among them, which
// need not be the one sent last). A single failed request between two good
// ones therefore counts as one send interval (1/rate). It is 0 when no
// request failed. The probe's duration runs until the last request ended, so
// no window is longer.
//
// The latency percentiles are nearest-rank over the requests actually sent
// (succeeded or not), in milliseconds.
//
// A URL may carry credentials (http://user:pass@host/): they are sent, but a
// Result and every error show the URL with its password masked.
package probe

import (
	"context"
	"errors"
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
	series   *series

	mu          sync.Mutex
	failures    map[string]int64
	servers     map[string]uint16 // ServerHeader values, by index (see serverIndex)
	serverNames []string

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

// withDefaults validates c and fills in the defaults. Its errors show the URL
// redacted: it may carry a password.
// Validate checks c as Start would, without starting anything: errors name
// the URL with its password masked.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

func (c Config) withDefaults() (Config, error) {
	shown := redact(c.URL)
	u, err := url.Parse(c.URL)
	if err != nil {
		return c, fmt.Errorf("probe URL %q: %w", shown, parseError(err, shown != c.URL))
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("probe URL %q: want an http:// or https:// URL with a host", shown)
	}
	switch {
	case c.Rate == 0:
		c.Rate = DefaultRate
	case math.IsNaN(c.Rate) || c.Rate < 0 || c.Rate > MaxRate:
		return c, fmt.Errorf("probe rate %v for %s: want 0 < rate <= %v requests per second", c.Rate, shown, MaxRate)
	}
	switch {
	case c.Timeout == 0:
		c.Timeout = DefaultTimeout
	case c.Timeout < 0:
		return c, fmt.Errorf("probe timeout %s for %s: want a positive duration", c.Timeout, shown)
	}
	return c, nil
}

// parseError is what url.Parse found wrong, without the URL it quotes. When
// the URL had something masked, even that may hold part of the password (an
// invalid escape in it), so only that the URL does not parse is said.
func parseError(err error, masked bool) error {
	if masked {
		return errors.New("not a valid URL")
	}
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
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
		servers:     map[string]uint16{},
	}
	p.start = time.Now()
	p.series = newSeries(p.start, SeriesStep)
	go p.send(ctx)
	return p
}

// Stop stops sending, waits for the requests in flight (each bounded by the
// timeout) and returns the figures. Later calls return the same figures.
func (p *Probe) Stop() Result {
	p.once.Do(func() {
		close(p.stop)
		<-p.sendDone
		p.wg.Wait()
		p.series.stop()
		// Taken after the last request ended, so that a failure window
		// running to the end of the probe fits in the duration.
		d := time.Since(p.start)
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
