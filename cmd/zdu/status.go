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
	stateDir := fs.String("state", state.DefaultDir(), "state directory: the nodes' locks and the record of every run")
	format := fs.String("format", "text", "output format: text or json")
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
	dir, err := findRun(pos[0], *stateDir)
	if err != nil {
		return report(stdout, stderr, "status", badUsage("%v", err))
	}
	events, err := readEvents(dir)
	if err != nil {
		return report(stdout, stderr, "status", err)
	}
	st := runStatus{Dir: dir, Summary: summary.FromEvents(events), OutOfService: summary.OutOfService(events)}
	st.State = liveness(events, *stateDir)
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
		return exitOK
	}
	fmt.Fprintln(stdout, "Out of service (left by this run, not put back yet):")
	for _, o := range st.OutOfService {
		why := ""
		if o.Kept {
			why = " — kept out: its rollback failed"
		}
		fmt.Fprintf(stdout, "    %s: out since %s (run %s); what puts it back: %s%s\n", o.Node, o.Since.Format(time.RFC3339), st.Summary.Run, o.What, why)
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
func liveness(events []journal.Event, stateDir string) string {
	last := events[len(events)-1]
	if last.Kind == journal.KindRun && (last.State == journal.Passed || last.State == journal.Failed) {
		return "ended (" + last.State + ")"
	}
	st, err := state.Open(stateDir)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	rec, err := st.Run(last.Run)
	if err != nil {
		return "not ended; its process is unknown here"
	}
	if st.Alive(rec) {
		return fmt.Sprintf("running (pid %d on %s)", rec.PID, rec.Host)
	}
	return "stopped without ending (its process died): zdu resume " + rec.ID
}

func cmdUnlock(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("unlock", flag.ContinueOnError)
	stateDir := fs.String("state", state.DefaultDir(), "state directory: the nodes' locks and the record of every run")
	pos, err := parseInterleaved(fs, args)
	if err == nil && len(pos) != 1 {
		err = badUsage("expected one RUNID, got %d arguments", len(pos))
	}
	if err != nil {
		return report(stdout, stderr, "unlock", err)
	}
	st, err := state.Open(*stateDir)
	if err != nil {
		return report(stdout, stderr, "unlock", badUsage("--state: %v", err))
	}
	released, err := st.Unlock(pos[0])
	if err != nil {
		return report(stdout, stderr, "unlock", badUsage("%v", err))
	}
	me := state.Me()
	fmt.Fprintf(stdout, "released %d node(s) of run %s: %s (recorded: by %s on %s)\n",
		len(released), pos[0], strings.Join(released, ", "), me.User, me.Host)
	return exitOK
}
