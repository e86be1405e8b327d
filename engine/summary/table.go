package summary

import (
	"fmt"
	"sort"
	"strings"

	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/probe"
)

// Title is the table's heading row, as in the seed.
const Title = "MULTI-NODE ZERO DOWN-TIME UPGRADE SUMMARY"

// Table renders the summary in the seed's shape: every column the same width,
// a title row, a header row, and one row per node.
func (s *Summary) Table() string {
	header := []string{"NODE"}
	for _, p := range s.Phases {
		header = append(header, p.Title)
	}
	header = append(header, "ROLLBACK")
	rows := [][]string{}
	width := 10
	for _, h := range header {
		width = max(width, len(h))
	}
	for _, n := range s.Nodes {
		r := []string{n.Name}
		for _, p := range s.Phases {
			r = append(r, n.Phases[p.ID].String())
		}
		r = append(r, n.Rollback.String())
		for _, c := range r {
			width = max(width, len(c))
		}
		rows = append(rows, r)
	}
	width += 2
	cols := len(header)
	// The title row spans every column: widen them when it would not fit.
	for cols*(width+1)-2 < len(Title)+1 {
		width++
	}
	rule := "    +" + strings.Repeat(strings.Repeat("-", width)+"+", cols) + "\n"
	inner := cols*(width+1) - 1
	var b strings.Builder
	fmt.Fprintf(&b, "Summary table (Status.%s):\n", s.Status)
	b.WriteString(rule)
	fmt.Fprintf(&b, "    | %-*s|\n", inner-1, Title)
	b.WriteString(rule)
	line := func(cells []string) {
		b.WriteString("    |")
		for _, c := range cells {
			fmt.Fprintf(&b, " %-*s|", width-1, c)
		}
		b.WriteString("\n")
		b.WriteString(rule)
	}
	line(header)
	for _, r := range rows {
		line(r)
	}
	for _, n := range s.Nodes {
		for _, note := range n.Notes {
			fmt.Fprintf(&b, "    %s: %s\n", n.Name, note)
		}
	}
	if s.Error != "" {
		fmt.Fprintf(&b, "    error: %s\n", s.Error)
	}
	if s.Gate != nil {
		fmt.Fprintf(&b, "    gate fired at %s: %s\n", s.Gate.At.Format("15:04:05Z"), s.Gate.Message)
	}
	for _, c := range s.Canaries {
		line := fmt.Sprintf("    canary of phase %s: %s", c.Phase, strings.ToUpper(c.State))
		if c.By != "" {
			line += " by " + c.By
		}
		if c.Error != "" && c.State != journal.Failed {
			line += ": " + c.Error
		}
		b.WriteString(line + "\n")
	}
	if s.Probe != nil {
		s.writeProbe(&b)
	}
	return b.String()
}

// minProbeRequests is the fewest probe requests whose figures say much.
const minProbeRequests = 10

// writeProbe adds the availability probe's figures under the table.
func (s *Summary) writeProbe(b *strings.Builder) {
	p := s.Probe
	fmt.Fprintf(b, "Availability probe (%s, %g requests/s):\n", p.URL, p.RateRPS)
	fmt.Fprintf(b, "    %s\n", p.Line())
	if p.Requests < minProbeRequests {
		fmt.Fprintf(b, "    note: only %d request(s): too few to measure availability (a longer run or a higher rate)\n", p.Requests)
	}
	if lines := p.ServerLines(); len(lines) > 0 {
		fmt.Fprintf(b, "    by server (%s):\n", probe.ServerHeader)
		for _, l := range lines {
			fmt.Fprintf(b, "      %s\n", l)
		}
	}
	for _, c := range p.LB {
		if c.Error != "" {
			fmt.Fprintf(b, "    %s %s (backend %s): counters not read: %s\n", c.Driver, c.LB, c.Backend, c.Error)
			continue
		}
		keys := make([]string, 0, len(c.Counters))
		for k := range c.Counters {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s %d", k, c.Counters[k])
		}
		fmt.Fprintf(b, "    %s %s (backend %s) during the run: %s\n", c.Driver, c.LB, c.Backend, strings.Join(parts, ", "))
	}
	switch {
	case p.Budget == nil:
	case p.Breach != "":
		fmt.Fprintf(b, "    error budget EXCEEDED: %s\n", p.Breach)
	default:
		fmt.Fprintf(b, "    error budget met\n")
	}
}
