package step

import "time"

// Waiting is what a step reports when it waits on something outside its
// node before it can go on: a load balancer's pool to recover before a
// drain, for instance. It is not a failure; the step still ends as it will.
type Waiting struct {
	// For names what is waited for, e.g. "minHealthy".
	For string
	// Message says it in one line for people (the live view, zdu resume).
	Message string
	// Until is when the step stops waiting and fails; zero: no bound of its
	// own (the step's timeout).
	Until time.Time
	// Detail is data for the journal (e.g. the servers that are down).
	Detail map[string]any
}

// WaitReporter is the ability of a Context to record that its step waits:
// the engine journals it, so the live view shows it and a resumed run can
// tell what its step in flight was waiting for.
type WaitReporter interface {
	Waiting(w Waiting)
}

// ReportWaiting tells rc that its step waits, when rc can record it (a
// test's Context may not).
func ReportWaiting(rc Context, w Waiting) {
	if r, ok := rc.(WaitReporter); ok {
		r.Waiting(w)
	}
}
