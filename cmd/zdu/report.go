package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	runreport "github.com/zdu-dev/zdu/engine/report"
	"github.com/zdu-dev/zdu/engine/rundir"
	"github.com/zdu-dev/zdu/engine/state"
	"github.com/zdu-dev/zdu/engine/state/etcdstate"
)

func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	out := fs.String("o", "", "write the report to this file (default RUNDIR/"+rundir.ReportHTML+"; RUNID.report.html for a run from another host, read from etcd)")
	stateDir := fs.String("state", state.DefaultDir(), stateUsage)
	pos, err := parseInterleaved(fs, args)
	if err == nil && len(pos) != 1 {
		err = badUsage("expected one RUNDIR or RUNID, got %d arguments", len(pos))
	}
	if err != nil {
		return report(stdout, stderr, "report", err)
	}
	dir, err := findRun(pos[0], *stateDir)
	path := *out
	if err != nil && etcdstate.IsURL(*stateDir) {
		// A run from another host: its record in etcd, copied aside.
		var cleanup func()
		dir, cleanup, err = copyAside(pos[0], *stateDir)
		defer cleanup()
		if path == "" {
			path = pos[0] + ".report.html"
		}
	}
	if err != nil {
		return report(stdout, stderr, "report", badUsage("%v", err))
	}
	if path == "" {
		path = filepath.Join(dir, rundir.ReportHTML)
	}
	if err := runreport.WriteFile(dir, path); err != nil {
		return report(stdout, stderr, "report", err)
	}
	fmt.Fprintf(stdout, "report: %s\n", path)
	return exitOK
}

// writeReport writes a run's report into its directory at the end of zdu
// run --report or zdu rehearse --report. A failure is only warned of: the
// run's outcome stands.
func writeReport(dir string, stdout, stderr io.Writer) {
	path := filepath.Join(dir, rundir.ReportHTML)
	if err := runreport.WriteFile(dir, path); err != nil {
		fmt.Fprintf(stderr, "zdu: warning: the run's report was not written: %v\n", err)
		return
	}
	fmt.Fprintf(stdout, "report: %s\n", path)
}
