package sandbox

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// Node states as a rehearsal reports them: what the service answers.
const (
	StateRunning   = "running"
	StateUnhealthy = "unhealthy" // answers, but its health check fails
	StateStopped   = "stopped"   // nothing listens on its port
	StateUnknown   = "unknown"   // it did not answer in time
)

// Observation is what a node's service answers now.
type Observation struct {
	// Version is the version it answers with ("" when it does not answer).
	Version string `json:"version"`
	State   string `json:"state"`
}

// Observe asks the node's service, over HTTP as any client would, which
// version it runs and whether it is healthy. It trusts nothing the
// sandbox remembers: a stopped service is stopped.
func (svc *Service) Observe(ctx context.Context) Observation {
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) (int, string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+svc.Addr()+path, nil)
		if err != nil {
			return 0, "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return resp.StatusCode, string(b), nil
	}
	code, _, err := get("/health")
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return Observation{State: StateStopped}
	case err != nil:
		return Observation{State: StateUnknown}
	}
	o := Observation{State: StateRunning}
	if code != http.StatusOK {
		o.State = StateUnhealthy
	}
	// "NODE VERSION" from any path but the health ones; a bad version may
	// answer some requests 500, so a few tries.
	for range 5 {
		c, body, err := get("/zdu-sandbox/version")
		if err != nil {
			break
		}
		if f := strings.Fields(body); c == http.StatusOK && len(f) == 2 {
			o.Version = f[1]
			break
		}
	}
	return o
}
