package probe

import (
	"context"
	"fmt"
	"time"
)

// Ping's attempts: a service that is still starting gets a moment, one that
// is down is reported before the run rather than as its first outage.
const (
	pingTries = 3
	pingPause = 200 * time.Millisecond
)

// Ping checks, before a run, that cfg's URL answers: up to pingTries GETs
// pingPause apart, each judged as the probe judges a request (status 200–399,
// the whole body, within cfg.Timeout). It returns nil on the first success,
// else an error naming the URL (redacted) and the last reason, e.g.
// "http://127.0.0.1:1/ does not answer: connection refused (3 tries)". It
// validates cfg as Start does, and stops early, with ctx's error, when ctx
// ends.
func Ping(ctx context.Context, cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	p := &Probe{cfg: cfg, client: newClient(1)}
	defer p.client.CloseIdleConnections()
	pause := time.NewTimer(pingPause)
	defer pause.Stop()
	var reason string
	for try := 0; try < pingTries; try++ {
		if try > 0 {
			pause.Reset(pingPause)
			select {
			case <-pause.C:
			case <-ctx.Done():
			}
		}
		if ctx.Err() == nil {
			if reason, _ = p.get(ctx); reason == "" {
				return nil
			}
		}
		// A request cut by the end of ctx says nothing about the service.
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("checking that %s answers: %w", redact(cfg.URL), err)
		}
	}
	return fmt.Errorf("%s does not answer: %s (%d tries)", redact(cfg.URL), reason, pingTries)
}
