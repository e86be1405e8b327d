package lbtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Load is a set of clients sending requests to one URL back to back, all the
// time, counting each answer: a 200 with a full body is ok, anything else
// (error, other status, cut body) is a failure. Requests are POSTs without a
// body: Go's transport silently retries a GET whose kept-alive connection
// died before the answer, which would hide exactly the failures we count.
type Load struct {
	url    string
	client *http.Client
	stop   atomic.Bool
	wg     sync.WaitGroup

	ok, failed atomic.Int64
	mu         sync.Mutex
	bodies     map[string]int64
	statuses   map[int]int64
	failures   []string
}

// Counts is what a Load has seen.
type Counts struct {
	OK, Failed int64
	// ByBody counts ok answers by body ("NAME VERSION"), i.e. by backend.
	ByBody map[string]int64
	// ByStatus counts failed answers by HTTP status (0: no answer at all).
	ByStatus map[int]int64
	// Failures holds the first failures' descriptions.
	Failures []string
}

func (c Counts) String() string {
	return fmt.Sprintf("ok=%d failed=%d by body %v failed by status %v first failures %q", c.OK, c.Failed, c.ByBody, c.ByStatus, c.Failures)
}

// StartLoad starts clients goroutines requesting url. Each keeps its
// connection alive, like a real API client would.
func StartLoad(url string, clients int) *Load {
	return StartLoadWith(url, LoadOptions{Clients: clients})
}

// LoadOptions shapes a Load.
type LoadOptions struct {
	Clients int
	// NoKeepAlive opens a new connection per request. nginx closes idle
	// kept-alive client connections when a reload retires its old workers;
	// a request sent on one at that instant is lost, a race of any nginx
	// reload that no drain can prevent (clients that retry idempotent
	// requests hide it). Tests of the nginx driver use this to count only
	// what the drain is responsible for.
	NoKeepAlive bool
}

// StartLoadWith starts a load shaped by o.
func StartLoadWith(url string, o LoadOptions) *Load {
	l := &Load{
		url:      url,
		bodies:   map[string]int64{},
		statuses: map[int]int64{},
		client: &http.Client{
			Timeout: 2 * time.Minute,
			Transport: &http.Transport{MaxIdleConnsPerHost: o.Clients, DisableCompression: true,
				DisableKeepAlives: o.NoKeepAlive},
		},
	}
	for i := 0; i < o.Clients; i++ {
		l.wg.Add(1)
		go l.run()
	}
	return l
}

func (l *Load) run() {
	defer l.wg.Done()
	for !l.stop.Load() {
		l.once()
	}
}

func (l *Load) once() {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, l.url, nil)
	if err != nil {
		l.fail(0, err.Error())
		return
	}
	resp, err := l.client.Do(req)
	if err != nil {
		l.fail(0, err.Error())
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		l.fail(0, fmt.Sprintf("reading body: %v", err))
	case resp.StatusCode != http.StatusOK:
		l.fail(resp.StatusCode, fmt.Sprintf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(body))))
	default:
		l.ok.Add(1)
		l.mu.Lock()
		l.bodies[strings.TrimSpace(string(body))]++
		l.mu.Unlock()
	}
}

func (l *Load) fail(status int, why string) {
	l.failed.Add(1)
	l.mu.Lock()
	l.statuses[status]++
	if len(l.failures) < 20 {
		l.failures = append(l.failures, why)
	}
	l.mu.Unlock()
}

// Counts returns what the load has seen so far.
func (l *Load) Counts() Counts {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := Counts{OK: l.ok.Load(), Failed: l.failed.Load(), ByBody: map[string]int64{}, ByStatus: map[int]int64{},
		Failures: append([]string(nil), l.failures...)}
	for k, v := range l.bodies {
		c.ByBody[k] = v
	}
	for k, v := range l.statuses {
		c.ByStatus[k] = v
	}
	return c
}

// Stop lets every client finish its current request (never cancelling one,
// which would count as a failure), then returns the final counts.
func (l *Load) Stop() Counts {
	l.stop.Store(true)
	l.wg.Wait()
	l.client.CloseIdleConnections()
	return l.Counts()
}

// WaitUntil polls cond every 10ms until it holds or ctx ends.
func WaitUntil(ctx context.Context, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}
