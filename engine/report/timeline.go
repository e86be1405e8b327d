package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/zdu-dev/zdu/engine/journal"
)

// Timeline is the run drawn against time: a row per node, a bar per step
// attempt, rollback step and compensation, placed in percent of the
// run's time span (which the probe chart shares).
type Timeline struct {
	Axis   Axis
	Phases []Bar
	// Resumes mark where the run went on in another process (zdu resume).
	Resumes []Mark
	Rows    []Row
}

// Row is one node's line.
type Row struct {
	Node  string
	Bars  []Bar
	Marks []Mark
}

// Bar spans from Left to Left+Width percent.
type Bar struct {
	Left, Width string // percent, formatted for a style attribute
	// Class is the bar's kind and outcome: "step passed", "rollback
	// failed", "undo passed", "rbspan passed", "step open" ...
	Class string
	Label string // shown on the bar when it is wide enough
	Title string // the tooltip: what, how it ended, how long, the error
}

// Mark is a moment on a row (a drift, a compensation kept from running).
type Mark struct {
	Left  string
	Class string
	Title string
}

// Axis maps times to percents of the run's span.
type Axis struct {
	From, To time.Time
	Ticks    []Tick
}

// Tick is a labelled time on the axis.
type Tick struct {
	Left  string
	Label string
}

func newAxis(from, to time.Time) Axis {
	if !to.After(from) {
		to = from.Add(time.Second)
	}
	a := Axis{From: from, To: to}
	span := to.Sub(from)
	step := tickStep(span)
	for d := time.Duration(0); d <= span; d += step {
		a.Ticks = append(a.Ticks, Tick{Left: pct(a.pos(from.Add(d))), Label: offset(d)})
	}
	return a
}

// pos is t's place on the axis, 0 to 100.
func (a Axis) pos(t time.Time) float64 {
	p := 100 * float64(t.Sub(a.From)) / float64(a.To.Sub(a.From))
	return min(max(p, 0), 100)
}

// bar places the span from..to, with at least a sliver of width.
func (a Axis) bar(from, to time.Time, class, label, title string) Bar {
	l, r := a.pos(from), a.pos(to)
	return Bar{Left: pct(l), Width: pct(max(r-l, 0)), Class: class, Label: label, Title: title}
}

// tickStep is a round step giving at most about 10 ticks over span.
func tickStep(span time.Duration) time.Duration {
	for _, s := range []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second,
		30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute,
		30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour} {
		if span/s <= 10 {
			return s
		}
	}
	return 24 * time.Hour
}

// offset shows a time from the run's start: 0s, 45s, 2m30s, 1h05m.
func offset(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

func pct(p float64) string { return fmt.Sprintf("%.3f", p) }

// span is a started thing awaiting its end.
type span struct {
	start time.Time
	typ   string // a step's type, from its start's detail
	title string // a phase's, from its start's detail
	row   string
}

// buildTimeline draws the events against axis a: nodes (the run's, in
// order) get a row each, even those that ran nothing.
func buildTimeline(events []journal.Event, nodes []string, a Axis) Timeline {
	tl := Timeline{Axis: a}
	rows := map[string]*Row{}
	var order []string
	row := func(n string) *Row {
		if r, ok := rows[n]; ok {
			return r
		}
		r := &Row{Node: n}
		rows[n] = r
		order = append(order, n)
		return r
	}
	for _, n := range nodes {
		row(n)
	}
	open := map[string]span{}
	var openOrder []string
	begin := func(k string, e journal.Event) {
		typ, _ := e.Detail["type"].(string)
		title, _ := e.Detail["title"].(string)
		if _, ok := open[k]; !ok {
			openOrder = append(openOrder, k)
		}
		open[k] = span{start: e.Time, typ: typ, title: title, row: e.Node}
	}
	end := func(k string) (span, bool) {
		s, ok := open[k]
		delete(open, k)
		return s, ok
	}
	var last time.Time // the previous event's
	for _, e := range events {
		k := strings.Join([]string{e.Kind, e.Phase, e.Node, e.Rollback, e.Step}, "\x00")
		if e.Kind == journal.KindRun && e.State == journal.Resumed {
			// What the dead process left unended ended with it: drawn
			// up to its last event.
			for _, key := range openOrder {
				s, ok := open[key]
				if !ok || s.row == "" {
					continue
				}
				delete(open, key)
				parts := strings.Split(key, "\x00")
				row(s.row).Bars = append(row(s.row).Bars, a.bar(s.start, last, kindClass(parts[0], parts[4])+" open", parts[4],
					fmt.Sprintf("%s %s: no end recorded: the process running it died (the run was resumed at %s)", parts[0], parts[4], e.Time.Format("15:04:05"))))
			}
			who, _ := e.Detail["user"].(string)
			tl.Resumes = append(tl.Resumes, Mark{Left: pct(a.pos(e.Time)), Class: "resumed",
				Title: fmt.Sprintf("%s: the run was resumed (zdu resume) by %s", e.Time.Format("15:04:05"), who)})
		}
		last = e.Time
		switch e.Kind {
		case journal.KindPhase:
			if e.State == journal.Started {
				begin(k, e)
			} else if s, ok := end(k); ok {
				tl.Phases = append(tl.Phases, a.bar(s.start, e.Time, "phase "+e.State, phaseName(e.Phase, s.title),
					fmt.Sprintf("phase %s: %s after %s", e.Phase, e.State, dur(e.Time.Sub(s.start)))))
			}
		case journal.KindStep, journal.KindRollback, journal.KindUndo:
			if e.Node == "" {
				continue
			}
			r := row(e.Node)
			switch e.State {
			case journal.Started:
				begin(k, e)
			case journal.Passed, journal.Failed, journal.Cancelled, journal.Retrying:
				if s, ok := end(k); ok {
					r.Bars = append(r.Bars, a.bar(s.start, e.Time, barClass(e), barLabel(e), barTitle(e, s)))
				}
			case journal.Kept:
				desc, _ := e.Detail["description"].(string)
				r.Marks = append(r.Marks, Mark{Left: pct(a.pos(e.Time)), Class: "kept",
					Title: "compensation kept from running (its rollback failed): did not " + desc})
			}
		case journal.KindDrift:
			if e.Node == "" {
				continue
			}
			title := "drift " + e.State + " (" + e.Step + ")"
			if e.Error != "" {
				title += ": " + e.Error
			}
			row(e.Node).Marks = append(row(e.Node).Marks, Mark{Left: pct(a.pos(e.Time)), Class: "drift " + e.State, Title: title})
		}
	}
	// What started and never ended: the run died, or is still going.
	for _, k := range openOrder {
		s, ok := open[k]
		if !ok {
			continue
		}
		delete(open, k) // a key may be listed twice: started again after a resume
		parts := strings.Split(k, "\x00")
		kind, phase, step := parts[0], parts[1], parts[4]
		title := fmt.Sprintf("%s %s: started, no end recorded (the run died, or is still going)", kind, step)
		if kind == journal.KindPhase {
			tl.Phases = append(tl.Phases, a.bar(s.start, a.To, "phase open", phaseName(phase, s.title), title))
			continue
		}
		if s.row != "" {
			r := row(s.row)
			r.Bars = append(r.Bars, a.bar(s.start, a.To, kindClass(kind, step)+" open", step, title))
		}
	}
	for _, n := range order {
		tl.Rows = append(tl.Rows, *rows[n])
	}
	return tl
}

// kindClass is a bar's kind: a step, a rollback's step, the rollback as a
// whole (its span, under its steps), or a compensation.
func kindClass(kind, step string) string {
	switch {
	case kind == journal.KindRollback && step == "":
		return "rbspan"
	case kind == journal.KindRollback:
		return "rollback"
	case kind == journal.KindUndo:
		return "undo"
	}
	return "step"
}

func barClass(e journal.Event) string { return kindClass(e.Kind, e.Step) + " " + e.State }

func barLabel(e journal.Event) string {
	switch kindClass(e.Kind, e.Step) {
	case "rbspan":
		return "rollback " + e.Rollback
	case "undo":
		return "compensation"
	}
	return e.Step
}

func barTitle(e journal.Event, s span) string {
	var b strings.Builder
	switch kindClass(e.Kind, e.Step) {
	case "rbspan":
		fmt.Fprintf(&b, "rollback %s of %s", e.Rollback, e.Node)
	case "rollback":
		fmt.Fprintf(&b, "rollback %s, step %s", e.Rollback, e.Step)
	case "undo":
		desc, _ := e.Detail["description"].(string)
		fmt.Fprintf(&b, "compensation: %s", desc)
	default:
		fmt.Fprintf(&b, "%s / %s", e.Phase, e.Step)
	}
	if s.typ != "" {
		fmt.Fprintf(&b, " (%s)", s.typ)
	}
	if e.Attempt > 1 {
		fmt.Fprintf(&b, ", attempt %d", e.Attempt)
	}
	fmt.Fprintf(&b, ": %s", strings.ToUpper(e.State))
	if e.ExitCode != nil && e.State != journal.Passed {
		fmt.Fprintf(&b, " (exit %d)", *e.ExitCode)
	}
	fmt.Fprintf(&b, " after %s", dur(e.Time.Sub(s.start)))
	if e.Error != "" {
		fmt.Fprintf(&b, "\n%s", e.Error)
	}
	return b.String()
}

func phaseName(id, title string) string {
	if title != "" {
		return title
	}
	return id
}

// dur shows a duration to the millisecond below a minute, to the second
// above.
func dur(d time.Duration) string {
	if d < time.Minute {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
