package run_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/dag"
	"github.com/zdu-dev/zdu/engine/enginetest"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/engine/run"
	"github.com/zdu-dev/zdu/engine/sandbox"
	"github.com/zdu-dev/zdu/steps/lb/lbtest"
	"github.com/zdu-dev/zdu/steps/lb/loopback"
)

// strategyPlan exercises every strategy and the walk's policies: a parallel
// limit, batches by count and by share, a serial phase with a failure its
// budget allows (the node is then blocked in the next phase), and a phase
// skipped by its when on some nodes.
const strategyPlan = `apiVersion: zdu/v1
name: strategies
phases:
  - id: par
    targets: all
    strategy: {parallel: 2}
    steps:
      - {id: a, type: ssh-exec, with: {command: "sleep 0.05"}}
      - {id: b, type: ssh-exec, with: {command: "true"}}
  - id: bat
    targets: all
    strategy: {batch: "40%"}
    steps:
      - {id: a, type: ssh-exec, with: {command: "sleep 0.02"}}
      - {id: b, type: ssh-exec, needs: [], with: {command: "true"}}
      - {id: c, type: ssh-exec, needs: [a, b], with: {command: "true"}}
  - id: ser
    targets: all
    maxFailures: 1
    steps:
      - {id: a, type: ssh-exec, with: {command: "test ${{ node.name }} != n3"}}
      - {id: b, type: ssh-exec, with: {command: "true"}}
  - id: some
    targets: all
    when: node.name != "n2"
    strategy: {batch: 2}
    steps:
      - {id: a, type: ssh-exec, with: {command: "true"}}
`

// TestGraphIsWhatRuns: the graph `zdu graph` prints is the one the engine
// walks. For each shipped plan on a rehearsal sandbox (Axway also with the
// apply failure that rolls two nodes back and blocks the rest), and for a
// plan with every strategy on local nodes: every vertex of the printed graph
// has exactly one terminal journal event; every vertex starts only after
// every vertex it depends on in the printed graph has ended (so the starts
// are in a topological order of it); and no phase has more nodes in progress
// at once than its strategy allows.
func TestGraphIsWhatRuns(t *testing.T) {
	t.Run("strategies", func(t *testing.T) {
		prog := enginetest.Compile(t, strategyPlan, inventory(5))
		r := enginetest.Execute(t, prog, enginetest.Options{})
		if r.Result.ExitCode != 1 || r.Result.Status != "SER_FAILED" {
			t.Errorf("got %s (%d), want the tolerated failure's SER_FAILED (1): %v", r.Result.Status, r.Result.ExitCode, r.Result.Err)
		}
		checkRunMatchesGraph(t, prog, r)
		if got := r.Summary.Nodes[2].Phases["some"].String(); got != "BLOCKED" {
			t.Errorf("n3 in phase some: %s, want BLOCKED (it failed in ser)\n%s", got, r.Table)
		}
		if got := r.Summary.Nodes[1].Phases["some"].String(); got != "SKIPPED" {
			t.Errorf("n2 in phase some: %s, want SKIPPED\n%s", got, r.Table)
		}
	})
	lbtest.Need(t, loopback.HAProxyPath, "haproxy")
	for _, tc := range []struct {
		name, plan, inv string
		nodes           int
		fail            string
		wantExit        int
	}{
		{name: "axway", plan: "axway-7.7", inv: "axway-7.7.inventory.yaml"},
		{name: "axway, Node-B apply fails", plan: "axway-7.7", inv: "axway-7.7.inventory.yaml", fail: "Node-B:apply", wantExit: 73},
		{name: "nova", plan: "nova-api", nodes: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prog, dial, _ := onSandbox(t, tc.plan, tc.inv, tc.nodes, tc.fail)
			r := enginetest.Execute(t, prog, enginetest.Options{Dial: dial})
			if r.Result.ExitCode != tc.wantExit {
				t.Fatalf("exit %d, want %d: %v\n%s", r.Result.ExitCode, tc.wantExit, r.Result.Err, r.Table)
			}
			checkRunMatchesGraph(t, prog, r)
		})
	}
}

// onSandbox starts a rehearsal sandbox shaped like the shipped plan (and
// inventory, when given), with the injected failures (NODE:STEP, comma
// separated), and compiles the plan against it.
func onSandbox(t *testing.T, plan, inv string, nodes int, fail string) (*compile.Program, run.Dialer, *sandbox.Sandbox) {
	t.Helper()
	root := filepath.Join("..", "..", "plans")
	pb, err := os.ReadFile(filepath.Join(root, plan+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p, probs := load.ParsePlan(filepath.Join(root, plan+".yaml"), pb)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	opt := sandbox.ShapeOptions{Nodes: nodes}
	if inv != "" {
		ib, _ := os.ReadFile(filepath.Join(root, inv))
		in, probs := load.ParseInventory(inv, ib)
		if len(probs) > 0 {
			t.Fatal(probs)
		}
		opt.Inventory = in
	}
	cfg, err := sandbox.Shape(p, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, fl := range strings.Split(fail, ",") {
		if fl == "" {
			continue
		}
		f, err := sandbox.ParseFailure(fl)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Fail = append(cfg.Fail, f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := sandbox.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	sb, err := os.ReadFile(s.Inventory)
	if err != nil {
		t.Fatal(err)
	}
	prog := enginetest.CompileAt(t, filepath.Join(root, plan+".yaml"), string(pb), string(sb))
	return prog, run.SSHDialer(prog.Binding.Inv), s
}

var dotEdgeRE = regexp.MustCompile(`(?m)^\t"([^"]+)" -> "([^"]+)";$`)

// checkRunMatchesGraph checks a run's journal against the graph as `zdu
// graph` prints it (DOT).
func checkRunMatchesGraph(t *testing.T, prog *compile.Program, r *enginetest.Run) {
	t.Helper()
	enginetest.CheckVertices(t, prog.Graph, r.Events)
	first, end := map[string]int{}, map[string]int{}
	for v, evs := range enginetest.VertexEnds(r.Events) {
		end[v] = evs[0].Seq
	}
	for _, e := range r.Events {
		if _, seen := first[e.Vertex]; e.Vertex != "" && !seen {
			first[e.Vertex] = e.Seq
		}
	}
	edges := dotEdgeRE.FindAllStringSubmatch(dag.Dot(prog.Graph), -1)
	if len(edges) < prog.Graph.Len()-1 {
		t.Fatalf("the printed graph has %d edges for %d vertices", len(edges), prog.Graph.Len())
	}
	for _, e := range edges {
		from, to := e[1], e[2]
		if end[from] == 0 || first[to] == 0 || end[from] > first[to] {
			t.Errorf("%s began (seq %d) before %s, which it depends on, ended (seq %d)", to, first[to], from, end[from])
		}
	}
	checkStrategyLimits(t, prog, r.Events)
}

// checkStrategyLimits: in each phase, never more nodes between their start
// and their end than the phase's limit, and batches one after the other.
func checkStrategyLimits(t *testing.T, prog *compile.Program, events []journal.Event) {
	t.Helper()
	for _, ph := range prog.Phases {
		batchOf := map[string]int{}
		for bi, batch := range ph.Batches {
			for _, n := range batch {
				batchOf[n.Name] = bi
			}
		}
		in, peak, lastBatch := map[string]bool{}, 0, 0
		for _, e := range events {
			if e.Kind != journal.KindNode || e.Phase != ph.ID {
				continue
			}
			switch e.State {
			case journal.Started:
				in[e.Node] = true
				peak = max(peak, len(in))
				if b := batchOf[e.Node]; b < lastBatch {
					t.Errorf("phase %s: %s of batch %d started after batch %d", ph.ID, e.Node, b+1, lastBatch+1)
				} else {
					lastBatch = b
				}
				for n := range in {
					if batchOf[n] != batchOf[e.Node] {
						t.Errorf("phase %s: %s (batch %d) started while %s (batch %d) was in progress",
							ph.ID, e.Node, batchOf[e.Node]+1, n, batchOf[n]+1)
					}
				}
			default:
				delete(in, e.Node)
			}
		}
		if peak > ph.Limit {
			t.Errorf("phase %s: %d nodes in progress at once, its strategy allows %d", ph.ID, peak, ph.Limit)
		}
		if len(in) > 0 {
			t.Errorf("phase %s: nodes never ended: %v", ph.ID, keys(in))
		}
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
