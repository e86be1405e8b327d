package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/rundir"
	"github.com/zdu-dev/zdu/engine/state"
)

func cmdApprove(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return decide(args, "approve", stdout, stderr)
}

func cmdAbort(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return decide(args, "abort", stdout, stderr)
}

// decide leaves an operator's decision for a run whose canary waits: zdu
// approve lets the rest of the phase go on, zdu abort stops the run there
// (exit 83; the plan's onBreach says whether the canary is rolled back).
// Only a run that waits at a canary's pause takes one: a decision made
// before would approve a pause nobody has seen.
func decide(args []string, what string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(what, flag.ContinueOnError)
	stateDir := fs.String("state", state.DefaultDir(), "state directory: the nodes' locks and the record of every run")
	pos, err := parseInterleaved(fs, args)
	if err == nil && len(pos) != 1 {
		err = badUsage("expected one RUNDIR or RUNID, got %d arguments", len(pos))
	}
	if err != nil {
		return report(stdout, stderr, what, err)
	}
	dir, err := findRun(pos[0], *stateDir)
	if err != nil {
		return report(stdout, stderr, what, badUsage("%v", err))
	}
	events, err := readEvents(dir)
	if err != nil {
		return report(stdout, stderr, what, err)
	}
	phase, waiting := canaryWaiting(events)
	if !waiting {
		fmt.Fprintf(stderr, "zdu %s: run %s is not waiting at a canary's pause (%s); nothing was decided\n", what, dir, livenessAt(events, *stateDir))
		return exitBadInput
	}
	me := state.Me()
	by := fmt.Sprintf("%s@%s (pid %d)", me.User, me.Host, me.PID)
	if err := rundir.Decide(dir, rundir.Decision{Decision: what, By: by, At: time.Now().UTC()}); err != nil {
		return report(stdout, stderr, what, fmt.Errorf("leaving the decision in %s: %w", dir, err))
	}
	verb := map[string]string{"approve": "approved: the rest of phase %s goes on", "abort": "aborted at phase %s's canary: the run stops there"}[what]
	fmt.Fprintf(stdout, "run %s: "+verb+" (by %s)\n", dir, phase, by)
	return exitOK
}

// canaryWaiting reports the phase whose canary waits for a decision, if
// the run's last word on a canary is that it waits and the run goes on.
func canaryWaiting(events []journal.Event) (string, bool) {
	phase, waiting := "", false
	for _, e := range events {
		switch {
		case e.Kind == journal.KindCanary && e.State == journal.Waiting:
			phase, waiting = e.Phase, true
		case e.Kind == journal.KindCanary:
			waiting = false
		case e.Kind == journal.KindRun && (e.State == journal.Passed || e.State == journal.Failed || e.State == journal.Resumed):
			waiting = false
		}
	}
	return phase, waiting
}
