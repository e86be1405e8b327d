package lb

import "github.com/zdu-dev/zdu/steps/step"

// States of a server on one instance, as progress reports name them.
const (
	StateDrain = "drain" // out of new traffic (sessions may still run)
	StateIdle  = "idle"  // out of new traffic, no session and no queue left
	StateReady = "ready" // back in traffic
)

// Report tells rc's engine the state of t's server on one instance (a
// journal lb event): its state and, where the driver sees them, the
// sessions and queued requests left. changed says it differs from the
// instance's report before.
func Report(rc step.Context, t Target, instance, state string, sessions, queue int64, changed bool) {
	d := map[string]any{"lb": t.LB.Name, "instance": instance, "server": t.Server, "state": state}
	if sessions >= 0 {
		d["sessions"] = sessions
	}
	if queue >= 0 {
		d["queue"] = queue
	}
	step.Report(rc, step.Progress{Kind: step.ProgressLB, Subject: instance, Detail: d, Changed: changed})
}
