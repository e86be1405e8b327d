package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/run"
	"github.com/zdu-dev/zdu/engine/rundir"
	"github.com/zdu-dev/zdu/engine/state"
)

// recordSeries writes the probe's intervals into the run directory while
// the run goes on. The function it returns ends that (once), warning of a
// failed write: the run goes on without the intervals.
func recordSeries(obs *run.ProbeObserver, dir string, stderr io.Writer) func() {
	f, err := rundir.AppendFile(filepath.Join(dir, rundir.ProbeSeries))
	if err != nil {
		fmt.Fprintf(stderr, "zdu run: warning: the probe's intervals are not recorded: %v\n", err)
		return func() {}
	}
	stop := obs.RecordSeries(f)
	var once sync.Once
	return func() {
		once.Do(func() {
			err := errors.Join(stop(), f.Close())
			if err != nil {
				fmt.Fprintf(stderr, "zdu run: warning: %s is incomplete: %v\n", rundir.ProbeSeries, err)
			}
		})
	}
}

// record is run.json for a new run: where the plan and inventory were, the
// --set flags (secret params only as digests), who started it.
func (src source) record(id string, prog *compile.Program, stateDir string) rundir.Record {
	me := state.Me()
	rec := rundir.Record{ID: id, Zdu: buildVersion(), Host: me.Host, User: me.User, PID: me.PID, Started: me.At,
		Plan: rundir.File{Path: absPath(src.planFile)}, Inventory: rundir.File{Path: absPath(src.invFile)},
		Sets: []string{}, State: recordSpec(stateDir)}
	for _, d := range src.library {
		rec.Library = append(rec.Library, absPath(d))
	}
	nodes := make([]string, len(prog.Binding.Inv.Nodes))
	for i, n := range prog.Binding.Inv.Nodes {
		nodes[i] = n.Name
	}
	rec.NodeLogs = rundir.NodeLogPaths(nodes)
	secret := map[string]bool{}
	for _, p := range prog.Binding.Plan.Params {
		secret[p.Name] = p.Secret
	}
	for _, s := range src.sets {
		name, value, _ := strings.Cut(s, "=")
		if secret[name] {
			if rec.Secrets == nil {
				rec.Secrets = map[string]rundir.Digest{}
			}
			rec.Secrets[name] = rundir.NewDigest(value)
			continue
		}
		rec.Sets = append(rec.Sets, s)
	}
	var infos []rundir.ParamInfo
	for _, p := range prog.Binding.Plan.Params {
		infos = append(infos, rundir.ParamInfo{Name: p.Name, Secret: p.Secret})
	}
	rec.Params = rundir.ParamValues(infos, prog.Binding.Params)
	for _, p := range prog.Binding.Plan.Params {
		if !p.Secret || p.Env == "" || rec.Secrets[p.Name].Sum != "" {
			continue
		}
		if v, ok := os.LookupEnv(p.Env); ok {
			if rec.Secrets == nil {
				rec.Secrets = map[string]rundir.Digest{}
			}
			d := rundir.NewDigest(v)
			d.Env = p.Env
			rec.Secrets[p.Name] = d
		}
	}
	return rec
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// notStarted records in the run directory a run that ended before its
// first step: the journal's end event (with why), the summary and run.json.
func notStarted(rd *rundir.Dir, prog *compile.Program, res run.Result, why error, stderr io.Writer) {
	e := journal.Event{Kind: journal.KindRun, State: journal.Failed, ExitCode: journal.Code(res.ExitCode),
		Error: why.Error(), Detail: map[string]any{"status": res.Status, "plan": prog.Binding.Plan.Name}}
	err := rd.Journal.Append(e)
	if err == nil {
		err = rd.WriteSummary(io.Discard)
	}
	if err == nil {
		err = rd.Finish(res.Status, res.ExitCode, time.Now())
	}
	if err != nil {
		fmt.Fprintf(stderr, "zdu run: recording why the run did not start in %s: %v\n", rd.Path, err)
	}
}
