package view

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/zdu-dev/zdu/engine/journal"
)

var update = flag.Bool("update", false, "rewrite the golden frames and lines under testdata/")

// readJournal reads a recorded journal from testdata.
func readJournal(t *testing.T, name string) []journal.Event {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	events, err := journal.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// golden compares got with testdata/path, or rewrites it with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	path = filepath.Join("testdata", path)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestFrames renders recorded journals, up to an event and a moment after
// it, at a fixed size, and compares the frames with golden files. Every
// frame fits its width and height whatever the goldens say.
func TestFrames(t *testing.T) {
	tests := []struct {
		name, journal string
		upTo          int           // the last event applied (0: all)
		after         time.Duration // the clock, after that event's time
		width, height int
	}{
		{"nova-first-drain", "nova.jsonl", 6, 800 * time.Millisecond, 100, 0},
		{"nova-second-node", "nova.jsonl", 40, 1500 * time.Millisecond, 100, 0},
		{"nova-end", "nova.jsonl", 0, time.Second, 120, 0},
		{"nova-narrow", "nova.jsonl", 40, 1500 * time.Millisecond, 60, 0},
		{"axway-failed", "axway-rollback.jsonl", 112, 0, 110, 0},
		{"axway-rolling-back", "axway-rollback.jsonl", 150, 100 * time.Millisecond, 110, 0},
		{"axway-end", "axway-rollback.jsonl", 0, 0, 110, 0},
		{"drain-sessions", "drain-wait.jsonl", 11, 500 * time.Millisecond, 100, 0},
		{"drain-retry", "drain-wait.jsonl", 17, 300 * time.Millisecond, 100, 0},
		{"wait-polls", "drain-wait.jsonl", 23, 300 * time.Millisecond, 100, 0},
		{"second-node-eta", "drain-wait.jsonl", 0, 2 * time.Second, 100, 0},
		{"short-terminal", "drain-wait.jsonl", 0, 2 * time.Second, 100, 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			events := readJournal(t, tc.journal)
			if tc.upTo > 0 {
				events = events[:tc.upTo]
			}
			m := NewModel()
			for _, e := range events {
				m.Apply(e)
			}
			now := events[len(events)-1].Time.Add(tc.after)
			frame := m.Frame(now, tc.width, tc.height, Style{})
			checkFits(t, frame, tc.width, tc.height)
			if again := m.Frame(now, tc.width, tc.height, Style{}); again != frame {
				t.Errorf("the same model and clock drew two different frames")
			}
			golden(t, filepath.Join("frames", tc.name+".txt"), frame+"\n")
		})
	}
}

// TestManyNodes: more nodes than rows; the ones at work and the failed one
// get rows, the rest are counted by state, and the frame fits.
func TestManyNodes(t *testing.T) {
	m := NewModel()
	for _, e := range manyNodes(40) {
		m.Apply(e)
	}
	now := time.Date(2026, 12, 2, 9, 1, 0, 0, time.UTC)
	frame := m.Frame(now, 90, 15, Style{})
	checkFits(t, frame, 90, 15)
	for _, want := range []string{"n-05", "n-21", "n-22", "n-23", "failed", "… and 30 more: 11 waiting, 19 passed"} {
		if !strings.Contains(frame, want) {
			t.Errorf("frame lacks %q:\n%s", want, frame)
		}
	}
	golden(t, "frames/many-nodes.txt", frame+"\n")
}

// manyNodes is a run of n nodes, three at a time: 20 passed, n-05 failed,
// n-21 to n-23 at work, the rest waiting.
func manyNodes(n int) []journal.Event {
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	var names []any
	for i := 1; i <= n; i++ {
		names = append(names, fmt.Sprintf("n-%02d", i))
	}
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	ev := []journal.Event{{Kind: journal.KindRun, State: journal.Started, Run: "r-many", Time: t0, Detail: map[string]any{
		"plan": "fleet", "nodes": names,
		"phases": []any{map[string]any{"id": "roll", "title": "ROLL", "nodes": names, "steps": []any{"swap"}, "limit": 3}}}},
		{Kind: journal.KindPhase, State: journal.Started, Phase: "roll", Time: t0, Detail: map[string]any{"title": "ROLL", "limit": 3}},
	}
	for i := 1; i <= 23; i++ {
		node := fmt.Sprintf("n-%02d", i)
		start := float64(i) * 2
		ev = append(ev,
			journal.Event{Kind: journal.KindNode, State: journal.Started, Phase: "roll", Node: node, Time: at(start)},
			journal.Event{Kind: journal.KindStep, State: journal.Started, Phase: "roll", Node: node, Step: "swap", Attempt: 1,
				Vertex: "roll/" + node + "/swap", Time: at(start), Detail: map[string]any{"type": "ssh-exec"}})
		if i > 20 {
			continue
		}
		state := journal.Passed
		if i == 5 {
			state = journal.Failed
		}
		ev = append(ev,
			journal.Event{Kind: journal.KindStep, State: state, Phase: "roll", Node: node, Step: "swap", Attempt: 1,
				Vertex: "roll/" + node + "/swap", Time: at(start + 5), Error: map[bool]string{true: "exit code 3"}[i == 5]},
			journal.Event{Kind: journal.KindNode, State: state, Phase: "roll", Node: node, Time: at(start + 5)})
	}
	return ev
}

// checkFits fails when a line of frame is wider than width or the frame
// has more lines than height (0: no limit).
func checkFits(t *testing.T, frame string, width, height int) {
	t.Helper()
	lines := strings.Split(frame, "\n")
	if height > 0 && len(lines) > height {
		t.Errorf("%d lines, want at most %d:\n%s", len(lines), height, frame)
	}
	for _, l := range lines {
		if w := ansi.StringWidth(l); width > 0 && w > width {
			t.Errorf("line %q is %d wide, want at most %d", l, w, width)
		}
	}
}

// TestStyledFrameIsThePlainOne: colours change nothing but the colours.
func TestStyledFrameIsThePlainOne(t *testing.T) {
	m := NewModel()
	for _, e := range readJournal(t, "axway-rollback.jsonl") {
		m.Apply(e)
	}
	now := time.Date(2026, 12, 2, 7, 34, 0, 0, time.UTC)
	plain, styled := m.Frame(now, 100, 0, Style{}), m.Frame(now, 100, 0, Style{Color: true})
	if plain == styled {
		t.Fatal("the styled frame has no style")
	}
	if got := ansi.Strip(styled); got != plain {
		t.Errorf("styled frame without its styles:\n%s\nwant the plain one:\n%s", got, plain)
	}
	checkFits(t, styled, 100, 0)
}

// TestLines writes recorded journals as text lines (times in UTC) and
// compares them with golden files: one line per event worth one, no
// repeated run id.
func TestLines(t *testing.T) {
	for _, name := range []string{"nova", "axway-rollback", "drain-wait"} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			l := NewLines(&b, time.UTC)
			events := readJournal(t, name+".jsonl")
			for _, e := range events {
				l.Event(e)
			}
			out := b.String()
			if n := strings.Count(out, events[0].Run); n != 1 {
				t.Errorf("the run id appears %d times, want once", n)
			}
			for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				if _, err := time.Parse("15:04:05", line[:8]); err != nil {
					t.Errorf("line %d does not start with a time: %q", i+1, line)
				}
			}
			golden(t, filepath.Join("lines", name+".txt"), out)
		})
	}
}

// TestLinesThinPolls: a wait polling every 100ms with the same answer
// writes a line when the answer changes and every PollLineEvery, not each
// poll.
func TestLinesThinPolls(t *testing.T) {
	var b bytes.Buffer
	l := NewLines(&b, time.UTC)
	t0 := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	for i := 1; i <= 300; i++ { // 30s
		seen := "status 503"
		if i == 300 {
			seen = "status 200"
		}
		l.Event(journal.Event{Kind: journal.KindPoll, State: journal.Progress, Node: "n1", Step: "health", Attempt: 1,
			Time: t0.Add(time.Duration(i) * 100 * time.Millisecond), Detail: map[string]any{"polls": i, "seen": seen, "ok": i == 300}})
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	// Polls 1, 101, 201 (every 10s) and 300 (the answer changed).
	if len(lines) != 4 || !strings.Contains(lines[0], "poll 1 ") || !strings.Contains(lines[3], "poll 300") || !strings.Contains(lines[3], "(ok)") {
		t.Errorf("lines:\n%s\nwant polls 1, 101, 201 and 300", b.String())
	}
}

func TestMode(t *testing.T) {
	term := []string{"TERM=xterm-256color"}
	tests := []struct {
		format string
		tty    bool
		env    []string
		want   string
	}{
		{"auto", true, term, ModeLive},
		{"console", true, term, ModeLive},
		{"auto", false, term, ModeLines},
		{"auto", true, []string{"TERM=dumb"}, ModeLines},
		{"auto", true, nil, ModeLines},
		{"text", true, term, ModeLines},
		{"json", true, term, ModeJSON},
		{"json", false, nil, ModeJSON},
	}
	for _, tc := range tests {
		if got := Mode(tc.format, tc.tty, tc.env); got != tc.want {
			t.Errorf("Mode(%s, tty %v, %v) = %s, want %s", tc.format, tc.tty, tc.env, got, tc.want)
		}
	}
}

// TestOldJournal: a journal written before the progress events and the
// phases' node lists (as older zdu wrote it) still draws: every node's row,
// its phase and state; no probe line, no node count.
func TestOldJournal(t *testing.T) {
	var old []journal.Event
	for _, e := range readJournal(t, "nova.jsonl") {
		if journal.IsProgress(e) {
			continue
		}
		if e.Kind == journal.KindRun && e.State == journal.Started {
			var phases []any
			for _, p := range asList(e.Detail["phases"]) {
				pm := p.(map[string]any)
				phases = append(phases, map[string]any{"id": pm["id"], "title": pm["title"]})
			}
			e.Detail = map[string]any{"plan": e.Detail["plan"], "nodes": e.Detail["nodes"], "phases": phases}
		}
		old = append(old, e)
	}
	for _, upTo := range []int{20, len(old)} {
		m := NewModel()
		for _, e := range old[:upTo] {
			m.Apply(e)
		}
		frame := m.Frame(old[upTo-1].Time, 100, 0, Style{})
		checkFits(t, frame, 100, 0)
		for _, want := range []string{"node-1", "node-2", "node-3", "controller", "UPGRADE-API", "passed"} {
			if !strings.Contains(frame, want) {
				t.Errorf("after %d events the frame lacks %q:\n%s", upTo, want, frame)
			}
		}
		if strings.Contains(frame, "probe ") || strings.Contains(frame, "nodes ") {
			t.Errorf("an old journal has no probe line nor node count:\n%s", frame)
		}
	}
	var b bytes.Buffer
	l := NewLines(&b, time.UTC)
	for _, e := range old {
		l.Event(e)
	}
	if !strings.Contains(b.String(), "run passed") {
		t.Errorf("lines of an old journal:\n%s", b.String())
	}
}

// TestLinesPrimed: a resumed run's lines know what came before (the node
// column's width, the phases' titles, when a node started) without
// writing it again.
func TestLinesPrimed(t *testing.T) {
	events := readJournal(t, "nova.jsonl")
	var whole, primed bytes.Buffer
	all := NewLines(&whole, time.UTC)
	for _, e := range events {
		all.Event(e)
	}
	l := NewLines(&primed, time.UTC)
	l.Prime(events[:40])
	for _, e := range events[40:] {
		l.Event(e)
	}
	if !strings.HasSuffix(whole.String(), primed.String()) || primed.Len() == 0 || strings.Count(whole.String(), "\n") <= strings.Count(primed.String(), "\n") {
		t.Errorf("primed lines are not the whole run's last lines:\n%s\nwhole:\n%s", primed.String(), whole.String())
	}
}

// TestCanaryAndGateNotices: a canary waiting for the operator says how to
// answer it; a gate that fired says why; a canary that passed clears it.
func TestCanaryAndGateNotices(t *testing.T) {
	events := readJournal(t, "drain-wait.jsonl")
	m := NewModel()
	for _, e := range events[:10] {
		m.Apply(e)
	}
	at := events[9].Time
	m.Apply(journal.Event{Kind: journal.KindCanary, State: journal.Waiting, Phase: "roll", Time: at, Detail: map[string]any{"timeout": "30m0s"}})
	frame := m.Frame(at, 200, 0, Style{})
	if !strings.Contains(frame, "canary of ROLL waits for you: zdu approve 20261202T080000Z-web-1a2b3c (or zdu abort 20261202T080000Z-web-1a2b3c) within 30m0s") {
		t.Errorf("no approval notice:\n%s", frame)
	}
	m.Apply(journal.Event{Kind: journal.KindCanary, State: journal.Passed, Phase: "roll", Time: at})
	if frame := m.Frame(at, 200, 0, Style{}); strings.Contains(frame, "canary") {
		t.Errorf("the notice stays after the canary passed:\n%s", frame)
	}
	m.Apply(journal.Event{Kind: journal.KindGate, State: journal.Failed, Time: at, Error: "p99 812 ms over maxP99 500 ms"})
	if frame := m.Frame(at, 200, 0, Style{}); !strings.Contains(frame, "gate fired: p99 812 ms over maxP99 500 ms") {
		t.Errorf("no gate notice:\n%s", frame)
	}
}
