package report

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zdu-dev/zdu/engine/probe"
	"github.com/zdu-dev/zdu/engine/summary"
)

//go:embed report.html.tmpl
var pageText string

// script is the page's only script (expanding and collapsing the logs):
// the Content-Security-Policy allows it by its digest, and nothing else.
const script = `(function () {
  var b = document.getElementById("toggle-logs");
  if (!b) { return; }
  b.addEventListener("click", function () {
    var open = b.getAttribute("data-open") !== "1";
    document.querySelectorAll("details.log").forEach(function (d) { d.open = open; });
    b.setAttribute("data-open", open ? "1" : "0");
    b.textContent = open ? "Collapse all logs" : "Expand all logs";
  });
})();`

var (
	page = template.Must(template.New("report").Parse(pageText))
	csp  = func() string {
		sum := sha256.Sum256([]byte(script))
		return "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-" +
			base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}()
)

// view is what the template is given.
type view struct {
	*Run
	Plan        string
	Status      string
	StatusClass string
	Duration    string
	Table       table
	Timeline    Timeline
	Chart       Chart
	ProbeLine   string
	Logs        []logView
	Generated   string
	CSP         string
	Script      template.JS
}

// table is the summary in the seed's shape.
type table struct {
	Title   string
	Caption string
	Header  []string
	Rows    [][]cell
	Notes   []string
}

type cell struct{ Text, Class string }

type logView struct {
	Node  string
	Size  string
	Cut   bool
	Lines []cell
}

// Render writes r as an HTML page.
func Render(w io.Writer, r *Run) error {
	v := view{Run: r, Plan: r.Summary.Plan, Generated: time.Now().UTC().Format(time.RFC3339), CSP: csp, Script: template.JS(script)}
	v.Status, v.StatusClass = status(r)
	v.Duration = dur(r.End.Sub(r.Start))
	v.Table = summaryTable(r.Summary)
	from, to := r.Start, r.End
	if n := len(r.Intervals); n > 0 {
		from = minTime(from, r.Intervals[0].Start)
		to = maxTime(to, r.Intervals[n-1].Start.Add(probe.SeriesStep))
	}
	axis := newAxis(from, to)
	nodes := make([]string, len(r.Summary.Nodes))
	for i, n := range r.Summary.Nodes {
		nodes[i] = n.Name
	}
	v.Timeline = buildTimeline(r.Events, nodes, axis)
	v.Chart = buildChart(r.Intervals, r.Events, axis)
	if p := r.Summary.Probe; p != nil {
		v.ProbeLine = p.Line()
	}
	for _, l := range r.Logs {
		v.Logs = append(v.Logs, logView{Node: l.Node, Size: size(l.Size), Cut: l.Cut, Lines: logLines(l.Text)})
	}
	return page.Execute(w, v)
}

// WriteFile renders the run directory dir into the file out, whole or not
// at all: it is written beside out and renamed over it, 0600 like every
// file of a run.
func WriteFile(dir, out string) error {
	r, err := Load(dir)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
	if err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a rename, nothing is there to remove
	err = Render(tmp, r)
	if err == nil {
		err = tmp.Sync()
	}
	if err = errors.Join(err, tmp.Close()); err != nil {
		return fmt.Errorf("writing the report %s: %w", out, err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	return nil
}

// status is the run's outcome as a word and a class.
func status(r *Run) (string, string) {
	s := r.Summary
	switch {
	case !r.Ended:
		return "NOT ENDED", "open"
	case s.Status == "SUCCESS":
		return s.Status, "passed"
	case s.Status == "INTERRUPTED":
		return s.Status, "cancelled"
	}
	return s.Status, "failed"
}

func summaryTable(s *summary.Summary) table {
	status := s.Status
	if status == "RUNNING" {
		status = "NOT_ENDED"
	}
	t := table{Title: summary.Title, Caption: "Summary table (Status." + status + ")", Header: []string{"NODE"}}
	for _, p := range s.Phases {
		t.Header = append(t.Header, p.Title)
	}
	t.Header = append(t.Header, "ROLLBACK")
	for _, n := range s.Nodes {
		row := []cell{{Text: n.Name, Class: "node"}}
		for _, p := range s.Phases {
			c := n.Phases[p.ID]
			row = append(row, cell{Text: c.String(), Class: cellClass(c.State)})
		}
		row = append(row, cell{Text: n.Rollback.String(), Class: cellClass(n.Rollback.State)})
		t.Rows = append(t.Rows, row)
		for _, note := range n.Notes {
			t.Notes = append(t.Notes, n.Name+": "+note)
		}
	}
	return t
}

func cellClass(state string) string {
	if state == "" {
		return "none"
	}
	return state
}

// logLines classes a node log's lines: the step frames and how each step
// ended, errors, compensations.
func logLines(text string) []cell {
	text = strings.TrimSuffix(text, "\n")
	if text == "" {
		return nil
	}
	lines := strings.Split(text, "\n")
	out := make([]cell, len(lines))
	for i, l := range lines {
		class := ""
		switch {
		case strings.HasPrefix(l, "ERROR:"):
			class = "err"
		case strings.HasPrefix(l, "########## COMPENSATION"):
			class = "undo"
		case strings.HasPrefix(l, "##########") && (strings.HasSuffix(l, " FAILED") || strings.HasSuffix(l, " CANCELLED")):
			class = "err"
		case strings.HasPrefix(l, "##########") && strings.HasSuffix(l, " PASSED"):
			class = "ok"
		case strings.HasPrefix(l, "##########"):
			class = "frame"
		}
		out[i] = cell{Text: l, Class: class}
	}
	return out
}

func size(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d bytes", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
