package dag

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// bv is a barrier vertex.
type bv struct{ v }

func (bv) Barrier() bool { return true }

// sv2 is a slotted vertex: holder h of pool p with limit n.
type slotted struct {
	v
	pool, holder string
	limit        int
}

func (x slotted) Slot() (string, int, string) { return x.pool, x.limit, x.holder }

// TestWalkBarrier: a barrier runs once its upstream has finished, failed
// or not; what it returns decides for its downstream.
func TestWalkBarrier(t *testing.T) {
	for _, tc := range []struct {
		barrier Status
		wantD   Status
	}{{Passed, Passed}, {Failed, Blocked}} {
		g := &Graph{}
		for _, x := range []Vertex{v{id: "a"}, v{id: "b"}, v{id: "c"}, bv{v{id: "gate"}}, v{id: "d"}} {
			g.Add(x)
		}
		for _, e := range [][2]string{{"a", "b"}, {"a", "c"}, {"b", "gate"}, {"c", "gate"}, {"gate", "d"}} {
			g.Connect(e[0], e[1])
		}
		r := Walk(context.Background(), g, func(ctx context.Context, x Vertex) Status {
			switch x.ID() {
			case "b":
				return Failed
			case "gate":
				return tc.barrier
			}
			return Passed
		})
		if r.Status("c") != Passed || r.Status("gate") != tc.barrier || r.Status("d") != tc.wantD {
			t.Errorf("barrier %v: c %v, gate %v, d %v", tc.barrier, r.Status("c"), r.Status("gate"), r.Status("d"))
		}
		if !slices.Contains(r.Started, "gate") {
			t.Errorf("the barrier did not run after a failure upstream: started %v", r.Started)
		}
	}
}

// TestWalkSlots: holders of three chained vertices each, in a pool of 2:
// never more than two holders at once, a holder keeps its slot from its
// first vertex to its last, holders start in the order they became ready,
// and a blocked holder gives its slot back.
func TestWalkSlots(t *testing.T) {
	const holders, limit = 7, 2
	g := &Graph{}
	for h := range holders {
		for s := range 3 {
			g.Add(slotted{v: v{id: fmt.Sprintf("h%d/s%d", h, s)}, pool: "p", holder: fmt.Sprintf("h%d", h), limit: limit})
			if s > 0 {
				g.Connect(fmt.Sprintf("h%d/s%d", h, s-1), fmt.Sprintf("h%d/s%d", h, s))
			}
		}
	}
	var mu sync.Mutex
	active, peak := map[string]bool{}, 0
	r := Walk(context.Background(), g, func(ctx context.Context, x Vertex) Status {
		sv := x.(slotted)
		mu.Lock()
		active[sv.holder] = true
		peak = max(peak, len(active))
		mu.Unlock()
		time.Sleep(time.Millisecond)
		last := x.ID()[len(x.ID())-1] == '2'
		failed := sv.holder == "h3" && x.ID() == "h3/s1"
		if last || failed {
			mu.Lock()
			delete(active, sv.holder)
			mu.Unlock()
		}
		if failed {
			return Failed
		}
		return Passed
	})
	if peak > limit {
		t.Errorf("%d holders held a slot at once, limit %d", peak, limit)
	}
	var starts []string // the walker's own order of first vertices
	for _, id := range r.Started {
		if id[len(id)-1] == '0' {
			starts = append(starts, id[:2])
		}
	}
	want := []string{"h0", "h1", "h2", "h3", "h4", "h5", "h6"}
	if !slices.Equal(starts, want) {
		t.Errorf("holders started %v, want %v", starts, want)
	}
	if r.Status("h3/s2") != Blocked || r.Status("h6/s2") != Passed || r.Err != nil {
		t.Errorf("h3/s2 %v, h6/s2 %v, err %v", r.Status("h3/s2"), r.Status("h6/s2"), r.Err)
	}
}

// TestWalkSlotsStop: a holder whose first vertex is stopped never takes a
// slot, and the others still run.
func TestWalkSlotsStop(t *testing.T) {
	g := &Graph{}
	for h := range 3 {
		g.Add(slotted{v: v{id: fmt.Sprintf("h%d", h)}, pool: "p", holder: fmt.Sprintf("h%d", h), limit: 1})
	}
	r := WalkOptions{Stop: func(x Vertex) bool { return x.ID() == "h1" }}.Walk(context.Background(), g,
		func(context.Context, Vertex) Status { return Passed })
	if r.Status("h0") != Passed || r.Status("h1") != Blocked || r.Reason("h1") != Stopped || r.Status("h2") != Passed {
		t.Errorf("h0 %v, h1 %v (%v), h2 %v", r.Status("h0"), r.Status("h1"), r.Reason("h1"), r.Status("h2"))
	}
}

// TestWalkDone: vertices done before the walk end Passed without running
// and take no slot; one whose upstream fails in this walk ends Blocked
// without OnBlocked, and blocks what follows it.
func TestWalkDone(t *testing.T) {
	g := &Graph{}
	for _, id := range []string{"a", "b", "c", "x", "y", "z"} {
		g.Add(slotted{v: v{id: id}, pool: "p", holder: id[:1], limit: 1})
	}
	for _, e := range [][2]string{{"a", "b"}, {"b", "c"}, {"x", "y"}, {"y", "z"}} {
		g.Connect(e[0], e[1])
	}
	var blocked []string
	done := map[string]bool{"a": true, "b": true, "y": true}
	r := WalkOptions{
		Done:      func(x Vertex) bool { return done[x.ID()] },
		OnBlocked: func(x Vertex, _ Reason) { blocked = append(blocked, x.ID()) },
	}.Walk(context.Background(), g, func(_ context.Context, x Vertex) Status {
		if x.ID() == "x" {
			return Failed
		}
		return Passed
	})
	started := append([]string(nil), r.Started...)
	slices.Sort(started)
	if got := strings.Join(started, ","); got != "c,x" {
		t.Errorf("started %s, want c,x: done vertices do not run", got)
	}
	want := map[string]Status{"a": Passed, "b": Passed, "c": Passed, "x": Failed, "y": Blocked, "z": Blocked}
	for id, s := range want {
		if r.Status(id) != s {
			t.Errorf("%s: %v, want %v", id, r.Status(id), s)
		}
	}
	if strings.Join(blocked, ",") != "z" {
		t.Errorf("OnBlocked told of %v, want only z (y's record is the earlier one)", blocked)
	}
}
