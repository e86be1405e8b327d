package dag

import "strconv"

// Status is the outcome of one vertex in a walk.
type Status int

const (
	// Pending is the zero value: the walk has not decided the vertex. A
	// finished walk leaves no vertex Pending.
	Pending Status = iota
	// Passed: fn ran and succeeded.
	Passed
	// Failed: fn ran and failed. Failed vertices are the root causes; what
	// they block is reported as Blocked, not Failed.
	Failed
	// Skipped: fn ran and decided not to act (e.g. a step whose `when` was
	// false). Skipped does not block what depends on it.
	Skipped
	// Blocked: fn never ran (an upstream vertex failed or was blocked, the
	// walk was cancelled or stopped), or fn itself returned Blocked. Blocked
	// propagates downstream like Failed.
	Blocked
)

var statusNames = [...]string{"pending", "passed", "failed", "skipped", "blocked"}

func (s Status) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}

// blocks reports whether s stops the vertices downstream from running.
func (s Status) blocks() bool { return s == Failed || s == Blocked }

// Reason says why a vertex was Blocked without running.
type Reason int

const (
	// NotBlocked: the vertex ran (or, for Blocked, fn itself said so).
	NotBlocked Reason = iota
	// Upstream: a vertex it depends on Failed or was Blocked.
	Upstream
	// Cancelled: the walk's context was done before it could start.
	Cancelled
	// Stopped: WalkOptions.StopOnFailure or WalkOptions.Stop held it back.
	Stopped
	// Cycle: the graph has a cycle, so nothing ran (see Result.Err).
	Cycle
)

var reasonNames = [...]string{"", "upstream", "cancelled", "stopped", "cycle"}

func (r Reason) String() string {
	if r >= 0 && int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "Reason(" + strconv.Itoa(int(r)) + ")"
}
