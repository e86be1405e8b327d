package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/state"
	"github.com/zdu-dev/zdu/engine/summary"
)

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	stateDir := fs.String("state", state.DefaultDir(), stateUsage)
	format := fs.String("format", "text", "output format: text or json")
	watch := fs.Bool("watch", false, "then print the run's events as they come, until it ends (a run recorded in etcd: from any host)")
	pos, err := parseInterleaved(fs, args)
	if err == nil && len(pos) != 1 {
		err = badUsage("expected one RUNDIR or RUNID, got %d arguments", len(pos))
	}
	if err == nil {
		err = oneOf("format", *format, "text", "json")
	}
	if err != nil {
		return report(stdout, stderr, "status", err)
	}
	b, err := openBackend(*stateDir)
	if err != nil {
		return report(stdout, stderr, "status", badUsage("--state: %v", err))
	}
	defer b.Close()
	dir, events, err := eventsFor(pos[0], b)
	if err != nil {
		return report(stdout, stderr, "status", badUsage("%v", err))
	}
	st := runStatus{Dir: dir, Summary: summary.FromEvents(events), OutOfService: summary.OutOfService(events)}
	st.State = liveness(events, b)
	if *format == "json" && *watch {
		// A stream of the journal's own lines: those so far, then the new.
		for _, e := range events {
			line, _ := jsonLine(e)
			stdout.Write(line)
		}
		return watchRun(ctx, b, dir, events, *format, stdout, stderr)
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(st)
		return exitOK
	}
	fmt.Fprintf(stdout, "run %s (%s): %s\n", st.Summary.Run, dir, st.State)
	fmt.Fprint(stdout, st.Summary.Table())
	if len(st.OutOfService) == 0 {
		fmt.Fprintln(stdout, "Out of service: nothing")
	} else {
		fmt.Fprintln(stdout, "Out of service (left by this run, not put back yet):")
		for _, o := range st.OutOfService {
			why := ""
			if o.Kept {
				why = " — kept out: its rollback failed"
			}
			fmt.Fprintf(stdout, "    %s: out since %s (run %s); what puts it back: %s%s\n", o.Node, o.Since.Format(time.RFC3339), st.Summary.Run, o.What, why)
		}
	}
	if *watch {
		return watchRun(ctx, b, dir, events, *format, stdout, stderr)
	}
	return exitOK
}

// runStatus is what zdu status reports.
type runStatus struct {
	Dir          string                `json:"dir"`
	State        string                `json:"state"`
	Summary      *summary.Summary      `json:"summary"`
	OutOfService []summary.Outstanding `json:"outOfService"`
}

// liveness says whether the run is running, ended, or stopped without
// ending (its process died), from its journal and the state directory.
func liveness(events []journal.Event, b state.Backend) string {
	last := events[len(events)-1]
	if ended(last) {
		return "ended (" + last.State + ")"
	}
	rec, err := b.Run(last.Run)
	if err != nil {
		return "not ended; its process is unknown here"
	}
	if b.Alive(rec) {
		return fmt.Sprintf("running (pid %d on %s)", rec.PID, rec.Host)
	}
	if rec.Unlocked != nil {
		return fmt.Sprintf("stopped without ending, abandoned by %s on %s at %s", rec.Unlocked.User, rec.Unlocked.Host, rec.Unlocked.At.Format(time.RFC3339))
	}
	return "stopped without ending (its process died): zdu resume " + rec.ID
}

func ended(e journal.Event) bool {
	return e.Kind == journal.KindRun && (e.State == journal.Passed || e.State == journal.Failed)
}

// livenessAt is liveness with the backend named by a --state value.
func livenessAt(events []journal.Event, stateSpec string) string {
	b, err := openBackend(stateSpec)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	defer b.Close()
	return liveness(events, b)
}

func cmdUnlock(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return unlockAs(ctx, "unlock", args, stdout, stderr)
}

// cmdAbandon is zdu unlock by the name a team uses: give up a run that
// stopped without finishing, releasing its nodes, recorded with who did it.
func cmdAbandon(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return unlockAs(ctx, "abandon", args, stdout, stderr)
}

func unlockAs(_ context.Context, name string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	stateDir := fs.String("state", state.DefaultDir(), stateUsage)
	pos, err := parseInterleaved(fs, args)
	if err == nil && len(pos) != 1 {
		err = badUsage("expected one RUNID, got %d arguments", len(pos))
	}
	if err != nil {
		return report(stdout, stderr, name, err)
	}
	st, err := openBackend(*stateDir)
	if err != nil {
		return report(stdout, stderr, name, badUsage("--state: %v", err))
	}
	defer st.Close()
	released, err := st.Unlock(pos[0])
	if err != nil {
		return report(stdout, stderr, name, badUsage("%v", err))
	}
	me := state.Me()
	fmt.Fprintf(stdout, "released %d node(s) of run %s: %s (recorded: by %s on %s)\n",
		len(released), pos[0], strings.Join(released, ", "), me.User, me.Host)
	return exitOK
}
