package dag_test

import (
	"context"
	"fmt"

	"github.com/zdu-dev/zdu/engine/dag"
)

type step struct{ id, node string }

func (s step) ID() string      { return s.id }
func (s step) Cluster() string { return "phase apply / node " + s.node }

// The walker has no parallelism limit; a strategy is a semaphore the caller
// puts around fn. Here "serial" allows one node's step at a time.
func ExampleWalk() {
	g := &dag.Graph{}
	for _, s := range []step{{"A/stop", "A"}, {"A/start", "A"}, {"B/stop", "B"}, {"B/start", "B"}} {
		if err := g.Add(s); err != nil {
			panic(err)
		}
	}
	for _, e := range [][2]string{{"A/stop", "A/start"}, {"B/stop", "B/start"}} {
		if err := g.Connect(e[0], e[1]); err != nil {
			panic(err)
		}
	}
	fmt.Print(g)

	serial := make(chan struct{}, 1)
	run := func(ctx context.Context, v dag.Vertex) dag.Status {
		select {
		case serial <- struct{}{}:
			defer func() { <-serial }()
		case <-ctx.Done():
			return dag.Blocked
		}
		if v.ID() == "B/stop" {
			return dag.Failed
		}
		return dag.Passed
	}
	res := dag.Walk(context.Background(), g, run)
	for _, v := range g.Vertices() {
		line := v.ID() + " " + res.Status(v.ID()).String()
		if why := res.Reason(v.ID()); why != dag.NotBlocked {
			line += " (" + why.String() + ")"
		}
		fmt.Println(line)
	}
	fmt.Println("root causes:", res.Failed)
	// Output:
	// A/stop
	//   -> A/start
	// A/start
	// B/stop
	//   -> B/start
	// B/start
	// A/stop passed
	// A/start passed
	// B/stop failed
	// B/start blocked (upstream)
	// root causes: [B/stop]
}
