package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/probe"
)

// The charts' SVG coordinates: x runs over the axis (0-1000 is 0-100%),
// stretched to the page's width; y is each chart's own height.
const (
	chartW    = 1000.0
	rpsH      = 120.0
	latencyH  = 100.0
	maxLabels = 24 // markers labelled on the chart; past that, tooltips only
)

// Chart is the probe's figures over time, on the timeline's axis.
type Chart struct {
	// Step is what one bar covers (a second, or more when merged).
	Step           string
	MaxRPS         string
	MaxLatency     string
	Bars           []ChartBar
	P50, P99       string // SVG path data
	Markers        []Marker
	LabelMarkers   bool
	TotalIntervals int
}

// ChartBar is one interval's requests per second: those that failed at
// the bottom, those answered above them, in SVG units.
type ChartBar struct {
	X, W         string
	OKY, OKH     string
	FailY, FailH string
	Title        string
}

// Marker is a moment that changes the traffic: a node drained, enabled,
// or put back by a compensation.
type Marker struct {
	Left  string // percent
	pos   float64
	Class string // drain, enable, undo
	Level int    // the line its label is on: markers close together take turns
	Label string
	Title string
}

// labelLevels is how many lines marker labels may take.
const labelLevels = 3

// stagger puts the label of a marker close to the one before on another
// line, so that labels of markers close in time do not overlap.
func stagger(ms []Marker) {
	last := [labelLevels]float64{-100, -100, -100}
	for i := range ms {
		for l := range labelLevels {
			if ms[i].pos-last[l] >= 6 || l == labelLevels-1 {
				ms[i].Level, last[l] = l, ms[i].pos
				break
			}
		}
	}
}

// buildChart draws the intervals on axis a, merged down to at most
// maxChartPoint bars, with the markers found in the events.
func buildChart(ivs []probe.Interval, events []journal.Event, a Axis) Chart {
	c := Chart{TotalIntervals: len(ivs), Markers: markers(events, a)}
	c.LabelMarkers = len(c.Markers) <= maxLabels
	stagger(c.Markers)
	if len(ivs) == 0 {
		return c
	}
	k := (len(ivs) + maxChartPoint - 1) / maxChartPoint
	width := time.Duration(k) * probe.SeriesStep
	c.Step = dur(width)
	merged := merge(ivs, k)
	var maxRPS, maxLat float64
	for _, iv := range merged {
		maxRPS = max(maxRPS, float64(iv.Requests)/width.Seconds())
		maxLat = max(maxLat, iv.P99MS)
	}
	maxRPS, maxLat = max(maxRPS, 1), max(maxLat, 0.001)
	c.MaxRPS, c.MaxLatency = trim(maxRPS), trim(maxLat)
	var p50, p99 strings.Builder
	gap := true
	for _, iv := range merged {
		x0, x1 := a.pos(iv.Start)*chartW/100, a.pos(iv.Start.Add(width))*chartW/100
		w := max(x1-x0-0.3, 0.2) // a hairline between bars
		rps := float64(iv.Requests) / width.Seconds()
		fps := float64(iv.Failed) / width.Seconds()
		title := fmt.Sprintf("%s +%s: %d requests, %d failed, latency p50 %s ms, p99 %s ms, max %s ms",
			iv.Start.Format("15:04:05"), c.Step, iv.Requests, iv.Failed, trim(iv.P50MS), trim(iv.P99MS), trim(iv.MaxMS))
		hf := fps / maxRPS * rpsH
		if iv.Failed > 0 {
			hf = max(hf, 3) // a few failures among many requests must still show
		}
		ho := (rps - fps) / maxRPS * rpsH
		c.Bars = append(c.Bars, ChartBar{X: num(x0), W: num(w), FailY: num(rpsH - hf), FailH: num(hf),
			OKY: num(rpsH - hf - ho), OKH: num(ho), Title: title})
		if iv.Requests == iv.Failed {
			gap = true // no latency to draw: the line breaks
			continue
		}
		cmd := "L"
		if gap {
			cmd = "M"
		}
		mid := (x0 + x1) / 2
		fmt.Fprintf(&p50, "%s%s %s ", cmd, num(mid), num(latencyH-iv.P50MS/maxLat*latencyH))
		fmt.Fprintf(&p99, "%s%s %s ", cmd, num(mid), num(latencyH-iv.P99MS/maxLat*latencyH))
		gap = false
	}
	c.P50, c.P99 = strings.TrimSpace(p50.String()), strings.TrimSpace(p99.String())
	return c
}

// merge sums k intervals at a time; the latencies are the worst of each
// group's (a merged percentile cannot be had from percentiles).
func merge(ivs []probe.Interval, k int) []probe.Interval {
	if k <= 1 {
		return ivs
	}
	out := make([]probe.Interval, 0, len(ivs)/k+1)
	for i := 0; i < len(ivs); i += k {
		m := probe.Interval{Start: ivs[i].Start}
		for _, iv := range ivs[i:min(i+k, len(ivs))] {
			m.Requests += iv.Requests
			m.Failed += iv.Failed
			m.P50MS, m.P99MS, m.MaxMS = max(m.P50MS, iv.P50MS), max(m.P99MS, iv.P99MS), max(m.MaxMS, iv.MaxMS)
		}
		out = append(out, m)
	}
	return out
}

// markers finds when traffic to a node changed: a drain starting, an
// enable done, a compensation putting a node back (steps of rollbacks
// included).
func markers(events []journal.Event, a Axis) []Marker {
	types := map[string]string{}
	var out []Marker
	add := func(t time.Time, class, label, title string) {
		p := a.pos(t)
		out = append(out, Marker{Left: pct(p), pos: p, Class: class, Label: label, Title: t.Format("15:04:05.000") + " " + title})
	}
	for _, e := range events {
		switch e.Kind {
		case journal.KindStep, journal.KindRollback:
			k := e.Kind + "\x00" + e.Phase + "\x00" + e.Node + "\x00" + e.Rollback + "\x00" + e.Step
			if e.State == journal.Started {
				typ, _ := e.Detail["type"].(string)
				types[k] = typ
				if typ == "lb-drain" {
					add(e.Time, "drain", "D "+e.Node, "drain "+e.Node+" ("+e.Step+") started")
				}
				continue
			}
			if e.State == journal.Passed && types[k] == "lb-enable" {
				add(e.Time, "enable", "E "+e.Node, "enable "+e.Node+" ("+e.Step+") done")
			}
		case journal.KindUndo:
			if e.State == journal.Passed {
				desc, _ := e.Detail["description"].(string)
				add(e.Time, "undo", "C "+e.Node, "compensation: "+desc)
			}
		}
	}
	return out
}

// num formats an SVG coordinate.
func num(v float64) string { return fmt.Sprintf("%.2f", v) }

// trim shows a figure with the precision that matters at its size.
func trim(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}
