// Package report renders a run directory as one self-contained HTML file:
// the summary table in the seed's shape, a timeline of every node's steps
// (rollbacks and compensations marked), the availability probe's figures
// over time with the drains and enables marked, and each node's log.
//
// It reads only the run directory, whose files zdu wrote masked, and
// escapes everything it shows (html/template). It needs nothing but the
// journal: a run that failed, was interrupted or died (no summary.json, a
// torn last journal line, steps with no end) is reported as far as its
// journal goes. The page loads nothing: its styles and its one script are
// inline, and its Content-Security-Policy forbids every other source.
package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/probe"
	"github.com/zdu-dev/zdu/engine/rundir"
	"github.com/zdu-dev/zdu/engine/summary"
)

// Bounds on what is read from a run directory: a run directory may come
// from elsewhere, and a report must stay a page a browser opens.
const (
	maxJournal    = 512 << 20 // journal.jsonl
	maxSeries     = 64 << 20  // probe.jsonl (over a hundred hours at one line a second)
	maxSmallFile  = 1 << 20   // run.json, rehearsal.json
	maxNodeLog    = 1 << 20   // the tail shown of one node's log
	maxAllLogs    = 32 << 20  // of all the nodes' logs together
	maxChartPoint = 1000      // bars of the probe chart: intervals are merged down to it
)

// Run is everything a report shows of one run, read from its directory.
type Run struct {
	Dir     string
	Events  []journal.Event
	Summary *summary.Summary
	// Record is run.json (nil when the directory has none).
	Record *rundir.Record
	// Intervals are the probe's figures second by second (probe.jsonl).
	Intervals []probe.Interval
	// Logs are the nodes' logs, in the summary's node order.
	Logs []NodeLog
	// Rehearsal is what rehearsal.json says (nil outside a rehearsal).
	Rehearsal *Rehearsal
	// Ended: the journal holds the run's end. Not ended: zdu died, or the
	// run is still going.
	Ended      bool
	Start, End time.Time
	// OutOfService is what the run left out and has not put back.
	OutOfService []summary.Outstanding
	// Problems are what could not be read (shown on the page, not fatal).
	Problems []string
}

// NodeLog is one node's log, or its tail.
type NodeLog struct {
	Node string
	Text string
	Size int64 // the whole file's
	// Cut: only the tail is in Text.
	Cut bool
}

// Rehearsal is the part of rehearsal.json a report shows.
type Rehearsal struct {
	Failures []struct {
		Node     string `json:"node"`
		Step     string `json:"step"`
		ExitCode int    `json:"exit_code"`
		Fired    bool   `json:"fired"`
	} `json:"injected_failures"`
}

// Load reads a run directory. Only a missing or unreadable journal is an
// error; whatever else is missing is left out of the report, and what is
// unreadable is listed in Problems.
func Load(dir string) (*Run, error) {
	data, err := readFile(filepath.Join(dir, rundir.JournalFile), maxJournal)
	if err != nil {
		return nil, fmt.Errorf("%s: not a run directory: %w", dir, err)
	}
	events, err := journal.Read(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, rundir.JournalFile), err)
	}
	if len(events) == 0 {
		return nil, fmt.Errorf("%s: the journal is empty", dir)
	}
	r := &Run{Dir: dir, Events: events, Summary: summary.FromEvents(events), OutOfService: summary.OutOfService(events)}
	r.Start, r.End = events[0].Time, events[len(events)-1].Time
	for _, e := range events {
		switch {
		case e.Kind != journal.KindRun:
		case e.State == journal.Passed || e.State == journal.Failed:
			r.Ended = true
		case e.State == journal.Resumed:
			r.Ended = false // a run that ended (failed) may be resumed
		}
	}
	var rec rundir.Record
	if r.optionalJSON(rundir.RecordFile, &rec) {
		r.Record = &rec
	}
	var reh Rehearsal
	if r.optionalJSON("rehearsal.json", &reh) {
		r.Rehearsal = &reh
	}
	r.loadSeries()
	r.loadLogs()
	return r, nil
}

// optionalJSON decodes a small file of the run directory into v, if it
// is there.
func (r *Run) optionalJSON(name string, v any) bool {
	b, err := readFile(filepath.Join(r.Dir, name), maxSmallFile)
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		r.Problems = append(r.Problems, fmt.Sprintf("%s: %v", name, err))
		return false
	}
	return true
}

// loadSeries reads probe.jsonl. A torn last line (the run died while
// writing it) is dropped.
func (r *Run) loadSeries() {
	b, err := readFile(filepath.Join(r.Dir, rundir.ProbeSeries), maxSeries)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		r.Problems = append(r.Problems, fmt.Sprintf("%s: %v", rundir.ProbeSeries, err))
		return
	}
	lines := bytes.Split(b, []byte{'\n'})
	for i, l := range lines {
		if len(l) == 0 {
			continue
		}
		var iv probe.Interval
		if err := json.Unmarshal(l, &iv); err != nil {
			if i < len(lines)-1 {
				r.Problems = append(r.Problems, fmt.Sprintf("%s line %d: %v", rundir.ProbeSeries, i+1, err))
			}
			continue
		}
		r.Intervals = append(r.Intervals, iv)
	}
	// A resumed run appends a new probe's intervals: keep them in time order.
	sort.SliceStable(r.Intervals, func(i, j int) bool { return r.Intervals[i].Start.Before(r.Intervals[j].Start) })
}

// loadLogs reads each node's log (its tail when long), the summary's nodes
// first, then any other log in the directory.
func (r *Run) loadLogs() {
	dir := filepath.Join(r.Dir, rundir.NodesDir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: %v", rundir.NodesDir, err))
		}
		return
	}
	files := map[string]bool{}
	for _, e := range ents {
		files[e.Name()] = true
	}
	var order []NodeLog
	for _, n := range r.Summary.Nodes {
		if name := rundir.NodeLogFile(n.Name); files[name] {
			order = append(order, NodeLog{Node: n.Name})
			delete(files, name)
		}
	}
	rest := make([]string, 0, len(files))
	for name := range files {
		if filepath.Ext(name) == ".log" {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	for _, name := range rest {
		order = append(order, NodeLog{Node: name[:len(name)-len(".log")]})
	}
	budget := int64(maxAllLogs)
	for _, l := range order {
		limit := min(int64(maxNodeLog), budget)
		text, size, err := readTail(filepath.Join(dir, rundir.NodeLogFile(l.Node)), limit)
		if err != nil {
			r.Problems = append(r.Problems, fmt.Sprintf("%s's log: %v", l.Node, err))
			continue
		}
		l.Text, l.Size, l.Cut = string(text), size, size > int64(len(text))
		budget -= int64(len(text))
		r.Logs = append(r.Logs, l)
	}
}

// open opens a regular file, never through a symlink, and never waiting on
// a FIFO.
func open(path string) (*os.File, os.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", path)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, st, nil
}

// readFile reads a whole regular file of at most limit bytes.
func readFile(path string, limit int64) ([]byte, error) {
	f, st, err := open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st.Size() > limit {
		return nil, fmt.Errorf("%s is over the limit of %d bytes", path, limit)
	}
	return io.ReadAll(io.LimitReader(f, limit))
}

// readTail reads the last limit bytes of a regular file, from the start
// of a line, and the file's size.
func readTail(path string, limit int64) ([]byte, int64, error) {
	f, st, err := open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	from := max(st.Size()-limit, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, from, limit))
	if err != nil {
		return nil, 0, err
	}
	if from > 0 {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return b, st.Size(), nil
}
