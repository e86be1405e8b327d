// Package exitcode is the one place zdu's exit codes are defined: the
// command line exits with them, the runner decides them, and the loader
// keeps plans from declaring the reserved ones for their phases.
package exitcode

const (
	// OK: the run passed (or the command did what it was asked).
	OK = 0
	// Failed is a phase's exit code when the plan gives none, and a
	// rollback's (rollbackExitCode).
	Failed = 1
	// BadInput: an invalid plan, inventory or flag; nothing was run.
	BadInput = 2
	// Held: nodes the run targets are held by another run (running, or
	// stopped without finishing); nothing was run.
	Held = 3
	// Fatal: an unexpected error, an unreachable node at preflight, a
	// journal that cannot be written, a sandbox that cannot start.
	Fatal = 80
	// ErrorBudget: the run passed its phases but the availability probe saw
	// more failures than the error budget allows (the plan may choose
	// another code with errorBudget.exitCode).
	ErrorBudget = 81
	// Gate: a live gate fired (the probe's figures over a window breached
	// the plan's gates; the plan may choose another code with
	// gates.exitCode).
	Gate = 82
	// Aborted: an operator aborted a canary's pause (zdu abort), or its
	// approval did not come in time.
	Aborted = 83
	// Interrupted: the operator stopped the run (SIGINT, SIGTERM).
	Interrupted = 130
)

// Reserved reports whether a plan may not declare code for a phase, a
// rollback or its error budget, and why: zdu exits with it for its own
// reasons, so the code alone would no longer say what happened.
func Reserved(code int) (string, bool) {
	switch code {
	case BadInput:
		return "bad input", true
	case Held:
		return "nodes held by another run", true
	case Fatal:
		return "fatal error", true
	}
	return "", false
}
