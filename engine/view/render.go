package view

import (
	"fmt"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/zdu-dev/zdu/engine/journal"
)

// Style says how a frame is drawn: Color uses colours and bold (the
// terminal, or the library, drops what it cannot show: NO_COLOR); plain
// text otherwise (the golden frames).
type Style struct {
	Color bool
}

// minRows is the fewest node rows a frame shows, however short the
// terminal: the header and these.
const minRows = 3

// Frame draws the view at now, every line at most width cells wide (0: no
// limit) and at most height lines (0: no limit): past that, the nodes
// worth watching (at work, failed) get rows and the rest are counted.
func (m *Model) Frame(now time.Time, width, height int, st Style) string {
	var lines []string
	add := func(s string) { lines = append(lines, fit(s, width)) }
	for _, l := range m.header(now, st) {
		add(l)
	}
	footer := m.footer(now, st)
	rows := len(m.nodes)
	if height > 0 {
		room := height - len(lines) - 2 - len(footer) // the blank line and the column heads
		rows = max(min(rows, room), minRows)
	}
	table := m.table(now, width, rows, st)
	if len(table) > 0 {
		add("")
		for _, l := range table {
			add(l)
		}
	}
	for _, l := range footer {
		add(l)
	}
	return strings.Join(lines, "\n")
}

// header is the run's line, its progress line and the probe's line.
func (m *Model) header(now time.Time, st Style) []string {
	bold := st.style(lipgloss.NewStyle().Bold(true))
	run := "zdu"
	if m.plan != "" {
		run += " · " + m.plan
	}
	if m.run != "" {
		run += " · run " + m.run
	}
	state, took := "running", now.Sub(m.started)
	switch {
	case m.ended != nil:
		state, took = m.ended.State, m.ended.Time.Sub(m.started)
	case m.stopping != "":
		state = "stopping (" + m.stopping + ")"
	case m.started.IsZero():
		state, took = "starting", 0
	}
	out := []string{bold(run) + " · " + st.state(state)(state) + " " + clock(took)}
	p := m.Progress(now)
	var parts []string
	if ph := m.current; ph != nil {
		parts = append(parts, fmt.Sprintf("%s %d/%d", bold(ph.title), ph.index+1, len(m.phases)))
	}
	if p.Nodes > 0 {
		parts = append(parts, fmt.Sprintf("nodes %d/%d", p.NodesDone, p.Nodes))
	}
	if p.Steps > 0 {
		parts = append(parts, fmt.Sprintf("steps %d/%d %s", p.StepsDone, p.Steps, bar(p.StepsDone, p.Steps, 20)))
	}
	switch {
	case m.ended != nil:
	case p.Known:
		parts = append(parts, "ETA "+clock(p.ETA))
	default:
		parts = append(parts, "ETA –")
	}
	if len(parts) > 0 {
		out = append(out, strings.Join(parts, " · "))
	}
	if t := m.traffic; t != nil {
		failed := fmt.Sprintf("%d failed", t.failed)
		if t.failed > 0 {
			failed = st.style(lipgloss.NewStyle().Foreground(lipgloss.Color("1")).Bold(true))(failed)
		}
		out = append(out, fmt.Sprintf("probe %.0f req/s · %s (%d of %d in all) · p99 %s ms",
			t.rps, failed, t.totalFailed, t.total, ms(t.p99)))
	}
	if m.notice != "" {
		colour := "3"
		if m.alarm {
			colour = "1"
		}
		out = append(out, st.style(lipgloss.NewStyle().Foreground(lipgloss.Color(colour)).Bold(true))(m.notice))
	}
	return out
}

// footer says how the run ended.
func (m *Model) footer(now time.Time, st Style) []string {
	e := m.ended
	if e == nil {
		return nil
	}
	status, _ := e.Detail["status"].(string)
	line := "run " + e.State
	if status != "" {
		line += ": " + status
	}
	if e.ExitCode != nil {
		line += fmt.Sprintf(" (exit %d)", *e.ExitCode)
	}
	out := []string{"", st.state(e.State)(line)}
	if e.Error != "" {
		out = append(out, "  "+firstLine(e.Error))
	}
	return out
}

// columns of the node table, by index.
const (
	colNode = iota
	colPhase
	colStep
	colTry
	colTime
	colState
	colDetail
)

var heads = []string{"NODE", "PHASE", "STEP", "TRY", "TIME", "STATE", "DETAIL"}

// table is the node rows under their column heads: rows of them at most,
// the rest counted on a last line.
func (m *Model) table(now time.Time, width, rows int, st Style) []string {
	if len(m.nodes) == 0 {
		return nil
	}
	shown, rest := m.pick(rows)
	cells := make([][]string, 0, len(shown)+1)
	cells = append(cells, heads)
	for _, n := range shown {
		cells = append(cells, n.cells(now))
	}
	widths := make([]int, len(heads))
	caps := []int{24, 16, 30, 3, 7, 12, 0}
	for _, row := range cells {
		for i, c := range row[:colDetail] {
			widths[i] = min(max(widths[i], ansi.StringWidth(c)), caps[i])
		}
	}
	// A narrow terminal loses the phase column first (the header names
	// the phase), then the steps' types.
	drop := map[int]bool{}
	if width > 0 && sum(widths)+2*len(widths) > width-12 {
		drop[colPhase] = true
	}
	if width > 0 && sum(widths)-widths[colPhase]+2*len(widths) > width-12 {
		for _, row := range cells[1:] {
			row[colStep], _, _ = strings.Cut(row[colStep], " (")
		}
		widths[colStep] = ansi.StringWidth(heads[colStep])
		for _, row := range cells {
			widths[colStep] = min(max(widths[colStep], ansi.StringWidth(row[colStep])), caps[colStep])
		}
	}
	head := st.style(lipgloss.NewStyle().Faint(true))
	var out []string
	for r, row := range cells {
		var b strings.Builder
		last := colDetail // the last column with something in it
		for last > 0 && (row[last] == "" || drop[last]) {
			last--
		}
		for i, c := range row[:last+1] {
			if drop[i] {
				continue
			}
			if i == colDetail {
				b.WriteString(c)
				break
			}
			c = fit(c, widths[i])
			if i < last {
				c = pad(c, widths[i])
			}
			switch {
			case r == 0:
				c = head(c)
			case i == colState:
				c = st.state(row[colState])(c)
			case i == colNode:
				c = st.style(lipgloss.NewStyle().Bold(true))(c)
			}
			if i < last {
				c += "  "
			}
			b.WriteString(c)
		}
		out = append(out, b.String())
	}
	if line := rest.String(); line != "" {
		out = append(out, head(line))
	}
	return out
}

// pick chooses the rows to show when there is room for rows of them: the
// nodes at work first, then failed ones, then the next to start, then the
// ended ones, each in inventory order; the rest are counted.
func (m *Model) pick(rows int) ([]*node, counts) {
	if len(m.nodes) <= rows {
		return m.nodes, nil
	}
	rows-- // the line that counts the rest
	rank := func(n *node) int {
		switch n.state {
		case stateRunning, journal.Retrying, stateRollingBack:
			return 0
		case journal.Failed, journal.Cancelled, stateRolledBack:
			return 1
		case stateWaiting:
			return 2
		}
		return 3
	}
	keep := map[*node]bool{}
	for r := 0; r <= 3 && len(keep) < rows; r++ {
		for _, n := range m.nodes {
			if len(keep) < rows && rank(n) == r {
				keep[n] = true
			}
		}
	}
	var shown []*node
	rest := counts{}
	for _, n := range m.nodes {
		if keep[n] {
			shown = append(shown, n)
		} else {
			rest[n.state]++
		}
	}
	return shown, rest
}

// counts are the nodes not shown, by state.
type counts map[string]int

func (c counts) String() string {
	if len(c) == 0 {
		return ""
	}
	total := 0
	var parts []string
	for _, s := range []string{stateRunning, journal.Retrying, stateRollingBack, journal.Failed, journal.Cancelled,
		stateRolledBack, stateWaiting, journal.Passed, journal.Skipped, journal.Blocked} {
		if c[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c[s], s))
			total += c[s]
		}
	}
	return fmt.Sprintf("… and %d more: %s", total, strings.Join(parts, ", "))
}

// cells is a node's row.
func (n *node) cells(now time.Time) []string {
	row := make([]string, len(heads))
	row[colNode] = n.name
	row[colState] = n.state
	row[colPhase], row[colStep], row[colTry], row[colTime] = "-", "-", "", ""
	if n.phase != nil {
		row[colPhase] = n.phase.title
	}
	if n.step != "" {
		row[colStep] = n.step
		if n.kind != "" {
			row[colStep] += " (" + n.kind + ")"
		}
	}
	if n.attempt > 0 {
		row[colTry] = fmt.Sprint(n.attempt)
	}
	switch {
	case n.state == stateWaiting:
	case n.took == 0 && (n.state == journal.Blocked || n.state == journal.Skipped):
	case n.took > 0 || (n.state != stateRunning && n.state != journal.Retrying && n.state != stateRollingBack):
		row[colTime] = clock(n.took)
	case !n.since.IsZero():
		row[colTime] = clock(now.Sub(n.since))
	}
	row[colDetail] = n.detail()
	return row
}

// detail is what is worth saying of a node now: why it failed, what its
// wait saw, its drain's sessions, a rollback or compensation under way.
func (n *node) detail() string {
	switch {
	case n.state == journal.Retrying:
		return "retry in " + n.retryIn + ": " + firstLine(n.err)
	case n.note != "":
		return firstLine(n.note)
	case n.state == journal.Failed || n.state == journal.Cancelled || n.state == journal.Blocked:
		return firstLine(n.err)
	case n.state != stateRunning:
		return ""
	case len(n.lbs) > 0:
		return lbLine(n.lbs)
	case n.poll != nil:
		return fmt.Sprintf("poll %d: %s", n.poll.polls, firstLine(n.poll.seen))
	}
	return ""
}

// lbLine is a node's server on each instance: "nova-api/lb1: 3 sessions,
// 0 queued; nova-api/lb2: idle".
func lbLine(ls []*lbState) string {
	parts := make([]string, 0, len(ls))
	for _, s := range ls {
		p := s.lb + "/" + s.instance + ": " + s.state
		if s.sessions > 0 || s.queue > 0 {
			p = s.lb + "/" + s.instance + fmt.Sprintf(": %d sessions, %d queued", max(s.sessions, 0), max(s.queue, 0))
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

// style returns a function applying s, or leaving the text as it is.
func (st Style) style(s lipgloss.Style) func(string) string {
	if !st.Color {
		return func(t string) string { return t }
	}
	return func(t string) string { return s.Render(t) }
}

// state colours a state: green passed, red failed, yellow at work.
func (st Style) state(state string) func(string) string {
	s := lipgloss.NewStyle()
	switch state {
	case journal.Passed, stateRolledBack:
		s = s.Foreground(lipgloss.Color("2"))
	case journal.Failed, journal.Cancelled, journal.Blocked:
		s = s.Foreground(lipgloss.Color("1")).Bold(true)
	case stateRunning, journal.Retrying, stateRollingBack:
		s = s.Foreground(lipgloss.Color("3"))
	case stateWaiting, journal.Skipped:
		s = s.Faint(true)
	default:
		if strings.HasPrefix(state, "stopping") {
			s = s.Foreground(lipgloss.Color("3")).Bold(true)
		}
	}
	return st.style(s)
}

// bar draws done of total in width cells.
func bar(done, total, width int) string {
	if total <= 0 {
		return ""
	}
	full := min(done*width/total, width)
	return "[" + strings.Repeat("█", full) + strings.Repeat("░", width-full) + "]"
}

// clock shows a duration as m:ss or h:mm:ss.
func clock(d time.Duration) string {
	d = max(d, 0).Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}

func ms(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// fit cuts s (which may hold ANSI styles) to width cells; 0 is no limit.
func fit(s string, width int) string {
	if width <= 0 || ansi.StringWidth(s) <= width {
		return s
	}
	return ansi.Truncate(s, width, "…")
}

func pad(s string, width int) string {
	if w := ansi.StringWidth(s); w < width {
		return s + strings.Repeat(" ", width-w)
	}
	return s
}

func sum(xs []int) int {
	t := 0
	for _, x := range xs {
		t += x
	}
	return t
}
