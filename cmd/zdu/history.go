package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/rundir"
	"github.com/zdu-dev/zdu/engine/state"
	"github.com/zdu-dev/zdu/engine/state/etcdstate"
	"github.com/zdu-dev/zdu/engine/summary"
)

// pastRun is one run as zdu history and zdu show tell it: the state
// directory's record, and what its run directory's journal says.
type pastRun struct {
	ID      string     `json:"id"`
	Plan    string     `json:"plan"`
	Dir     string     `json:"dir"`
	Started time.Time  `json:"started"`
	Ended   *time.Time `json:"ended,omitempty"`
	// Outcome is the run's status (SUCCESS, APPLY_FAILED ...) when it
	// ended, else running or died.
	Outcome  string `json:"outcome"`
	ExitCode *int   `json:"exitCode,omitempty"`
	// ProbeRequests and ProbeFailed are the availability probe's figures
	// (absent when no probe ran, or the run did not end).
	ProbeRequests *int64 `json:"probeRequests,omitempty"`
	ProbeFailed   *int64 `json:"probeFailed,omitempty"`
	// Problem says why the run directory could not be read.
	Problem string           `json:"problem,omitempty"`
	Summary *summary.Summary `json:"-"`
}

// describe reads what the run directory of rec says of it.
func describe(st state.Backend, rec state.Run) pastRun {
	p := pastRun{ID: rec.ID, Plan: rec.Plan, Dir: rec.RunDir, Started: rec.Started, Ended: rec.Ended, ExitCode: rec.ExitCode, Outcome: rec.Status}
	var events []journal.Event
	var err error
	if r, ok := recorder(st); ok {
		// A shared state has the journal itself: the run may have run
		// on another host.
		if events, err = r.Events(rec.ID); err == nil && len(events) == 0 {
			err = fmt.Errorf("run %s has no journal in %s", rec.ID, st)
		}
	} else {
		events, err = readEvents(rec.RunDir)
	}
	if err != nil {
		p.Problem = err.Error()
	} else {
		p.Summary = summary.FromEvents(events)
		if pr := p.Summary.Probe; pr != nil {
			p.ProbeRequests, p.ProbeFailed = &pr.Requests, &pr.Failed
		}
		if p.Plan == "" {
			p.Plan = p.Summary.Plan
		}
	}
	if rec.Ended == nil {
		switch {
		case st != nil && st.Alive(rec):
			p.Outcome = "running"
		case p.Summary != nil && p.Summary.Status != "RUNNING":
			// Ended in its journal, yet not in the state record (it could
			// not release its locks): the journal is the run's truth.
			p.Outcome, p.ExitCode = p.Summary.Status, &p.Summary.ExitCode
		default:
			p.Outcome = "died"
		}
	}
	return p
}

func (p pastRun) duration() string {
	if p.Ended == nil {
		return "-"
	}
	return p.Ended.Sub(p.Started).Round(time.Second).String()
}

func (p pastRun) outcome() string {
	if p.ExitCode == nil {
		return p.Outcome
	}
	return fmt.Sprintf("%s (%d)", p.Outcome, *p.ExitCode)
}

func (p pastRun) probe() string {
	switch {
	case p.Problem != "":
		return "?"
	case p.ProbeFailed == nil:
		return "-"
	}
	return fmt.Sprintf("%d of %d", *p.ProbeFailed, *p.ProbeRequests)
}

func cmdHistory(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("history", flag.ContinueOnError)
	stateDir := fs.String("state", state.DefaultDir(), stateUsage)
	format := fs.String("format", "text", "output format: text or json")
	pos, err := parseInterleaved(fs, args)
	if err == nil && len(pos) != 0 {
		err = badUsage("expected no arguments, got %d", len(pos))
	}
	if err == nil {
		err = oneOf("format", *format, "text", "json")
	}
	if err != nil {
		return report(stdout, stderr, "history", err)
	}
	st, err := openState(*stateDir)
	if err != nil {
		return report(stdout, stderr, "history", badUsage("--state: %v", err))
	}
	defer st.Close()
	recs, err := st.Runs()
	if err != nil {
		return report(stdout, stderr, "history", err)
	}
	runs := make([]pastRun, len(recs))
	for i, rec := range recs {
		runs[i] = describe(st, rec)
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(runs)
		return exitOK
	}
	if len(runs) == 0 {
		fmt.Fprintf(stdout, "no runs recorded in %s\n", *stateDir)
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tPLAN\tSTARTED\tDURATION\tOUTCOME\tPROBE FAILED")
	for _, p := range runs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.Plan, p.Started.Local().Format("2006-01-02 15:04:05"), p.duration(), p.outcome(), p.probe())
	}
	tw.Flush()
	return exitOK
}

// openState opens an existing state directory (history and show only
// read), or an etcd cluster.
func openState(dir string) (state.Backend, error) {
	if etcdstate.IsURL(dir) {
		return openBackend(dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "runs")); err != nil {
		return nil, fmt.Errorf("no state directory at %s (no run recorded there): %w", dir, err)
	}
	return state.Open(dir)
}

func cmdShow(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("show", flag.ContinueOnError)
	stateDir := fs.String("state", state.DefaultDir(), "state directory, where RUNID is looked up")
	format := fs.String("format", "text", "output format: text or json")
	pos, err := parseInterleaved(fs, args)
	if err == nil && len(pos) != 1 {
		err = badUsage("expected one RUNID or RUNDIR, got %d arguments", len(pos))
	}
	if err == nil {
		err = oneOf("format", *format, "text", "json")
	}
	if err != nil {
		return report(stdout, stderr, "show", err)
	}
	p, err := findPast(pos[0], *stateDir)
	if err != nil {
		return report(stdout, stderr, "show", badUsage("%v", err))
	}
	if p.Summary == nil {
		return report(stdout, stderr, "show", fmt.Errorf("run %s: %s", p.ID, p.Problem))
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(struct {
			pastRun
			Summary *summary.Summary `json:"summary"`
		}{p, p.Summary})
		return exitOK
	}
	fmt.Fprintf(stdout, "run       %s\n", p.ID)
	fmt.Fprintf(stdout, "plan      %s\n", p.Plan)
	fmt.Fprintf(stdout, "started   %s\n", p.Started.Local().Format("2006-01-02 15:04:05 MST"))
	if p.Ended != nil {
		fmt.Fprintf(stdout, "ended     %s (%s)\n", p.Ended.Local().Format("2006-01-02 15:04:05 MST"), p.duration())
	}
	fmt.Fprintf(stdout, "outcome   %s\n", p.outcome())
	fmt.Fprintf(stdout, "directory %s\n", p.Dir)
	if _, err := os.Stat(filepath.Join(p.Dir, rundir.ReportHTML)); err == nil {
		fmt.Fprintf(stdout, "report    %s\n", filepath.Join(p.Dir, rundir.ReportHTML))
	} else {
		fmt.Fprintf(stdout, "report    none yet: zdu report %s\n", p.ID)
	}
	fmt.Fprint(stdout, p.Summary.Table())
	return exitOK
}

// findPast finds a run by its id in the state directory, or by its run
// directory (a run whose state directory is elsewhere, or gone).
func findPast(arg, stateDir string) (pastRun, error) {
	if _, err := os.Stat(filepath.Join(arg, rundir.JournalFile)); err == nil {
		return fromDir(arg, stateDir)
	}
	st, err := openState(stateDir)
	if err != nil {
		return pastRun{}, fmt.Errorf("%s is neither a run directory nor a run in %s: %w", arg, stateDir, err)
	}
	defer st.Close()
	rec, err := st.Run(arg)
	if err != nil {
		return pastRun{}, fmt.Errorf("%s is neither a run directory nor a run in %s: %w", arg, stateDir, err)
	}
	return describe(st, rec), nil
}

// fromDir describes the run in directory dir: from the state directory's
// record when it has one, else from its journal alone.
func fromDir(dir, stateDir string) (pastRun, error) {
	events, err := readEvents(dir)
	if err != nil {
		return pastRun{}, err
	}
	id := events[0].Run
	if st, err := openState(stateDir); err == nil {
		defer st.Close()
		if rec, err := st.Run(id); err == nil {
			return describe(st, rec), nil
		}
	}
	s := summary.FromEvents(events)
	p := pastRun{ID: id, Plan: s.Plan, Dir: dir, Started: events[0].Time, Summary: s, Outcome: "not ended"}
	if last := events[len(events)-1]; last.Kind == journal.KindRun && (last.State == journal.Passed || last.State == journal.Failed) {
		end := last.Time
		p.Ended, p.Outcome, p.ExitCode = &end, s.Status, &s.ExitCode
	}
	if s.Probe != nil {
		p.ProbeRequests, p.ProbeFailed = &s.Probe.Requests, &s.Probe.Failed
	}
	return p, nil
}
