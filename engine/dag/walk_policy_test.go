package dag

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// wait blocks until ch is closed, or gives up after a long safety margin so
// a broken walker fails the test instead of hanging it. Nothing is timed.
func wait(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-time.After(30 * time.Second):
		return false
	}
}

func TestWalkCancel(t *testing.T) {
	t.Run("mid-walk: running vertices finish, unstarted ones are blocked", func(t *testing.T) {
		g := build(t, []string{"r1", "r2", "d1", "d2", "d3"},
			e("r1", "d1"), e("r2", "d2"), e("d2", "d3"))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		rec := newRecorder(nil)
		r2started := make(chan struct{})
		rec.action["r1"] = func(context.Context) Status {
			if !wait(r2started) {
				return Failed
			}
			cancel() // as SIGINT would, while r2 is running
			return Passed
		}
		rec.action["r2"] = func(ctx context.Context) Status {
			close(r2started)
			if !wait(ctx.Done()) {
				return Failed
			}
			return Passed // a step that ends cleanly within its bound
		}
		res := Walk(ctx, g, rec.fn)
		rec.checkOrder(t, g)
		checkResult(t, res, map[string]want{
			"r1": {Passed, 0}, "r2": {Passed, 0},
			"d1": {Blocked, Cancelled}, "d2": {Blocked, Cancelled}, "d3": {Blocked, Upstream},
		})
		if !res.Cancelled || !slices.Contains(res.Finished, "r2") {
			t.Errorf("Cancelled = %v, Finished = %v: want cancelled with r2 finished", res.Cancelled, res.Finished)
		}
	})
	t.Run("already cancelled: nothing runs", func(t *testing.T) {
		g := build(t, []string{"a", "b", "c"}, e("a", "b"))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		rec := newRecorder(nil)
		res := Walk(ctx, g, rec.fn)
		checkResult(t, res, map[string]want{
			"a": {Blocked, Cancelled}, "b": {Blocked, Upstream}, "c": {Blocked, Cancelled},
		})
		if rec.seq.Load() != 0 || !res.Cancelled || len(res.Failed) != 0 {
			t.Errorf("ran %d, Cancelled %v, Failed %v", rec.seq.Load()/2, res.Cancelled, res.Failed)
		}
	})
}

// TestWalkStopOnFailure: f fails while s runs; s (already running) finishes,
// and t, which becomes ready only after the failure is known, is held back
// only when StopOnFailure is set.
func TestWalkStopOnFailure(t *testing.T) {
	tests := []struct {
		stop  bool
		wantT want
	}{
		{stop: false, wantT: want{Passed, 0}},
		{stop: true, wantT: want{Blocked, Stopped}},
	}
	for _, tt := range tests {
		t.Run("StopOnFailure="+map[bool]string{true: "true", false: "false"}[tt.stop], func(t *testing.T) {
			g := build(t, []string{"f", "s", "g", "t"}, e("f", "g"), e("s", "t"))
			rec := newRecorder(map[string]Status{"f": Failed})
			// The walker tells OnBlocked about g only after it has taken in
			// f's failure, so s ends strictly after that.
			failureSeen := make(chan struct{})
			var once sync.Once
			var blocked []string
			opts := WalkOptions{
				StopOnFailure: tt.stop,
				OnBlocked: func(x Vertex, why Reason) {
					blocked = append(blocked, x.ID()+":"+why.String())
					if x.ID() == "g" {
						once.Do(func() { close(failureSeen) })
					}
				},
			}
			rec.action["s"] = func(context.Context) Status {
				if !wait(failureSeen) {
					return Failed
				}
				return Passed
			}
			res := opts.Walk(context.Background(), g, rec.fn)
			rec.checkOrder(t, g)
			checkResult(t, res, map[string]want{
				"f": {Failed, 0}, "g": {Blocked, Upstream}, "s": {Passed, 0}, "t": tt.wantT,
			})
			wantBlocked := []string{"g:upstream"}
			if tt.stop {
				wantBlocked = append(wantBlocked, "t:stopped")
			}
			if !slices.Equal(blocked, wantBlocked) || !slices.Equal(res.Failed, []string{"f"}) {
				t.Errorf("OnBlocked saw %v, want %v; Failed %v", blocked, wantBlocked, res.Failed)
			}
		})
	}
}

func TestWalkStopHook(t *testing.T) {
	g := build(t, []string{"p1/a", "p1/b", "p2/a", "p2/b"},
		e("p1/a", "p2/a"), e("p1/b", "p2/a"), e("p2/a", "p2/b"))
	var asked []string // no lock: Stop must only run on the walker's goroutine (-race checks)
	opts := WalkOptions{Stop: func(x Vertex) bool {
		asked = append(asked, x.ID())
		return strings.HasPrefix(x.ID(), "p2/")
	}}
	rec := newRecorder(nil)
	res := opts.Walk(context.Background(), g, rec.fn)
	checkResult(t, res, map[string]want{
		"p1/a": {Passed, 0}, "p1/b": {Passed, 0},
		"p2/a": {Blocked, Stopped}, "p2/b": {Blocked, Upstream},
	})
	// Stop is asked before each start, in the order vertices become ready,
	// and not for a vertex already blocked by its upstream.
	if !slices.Equal(asked, []string{"p1/a", "p1/b", "p2/a"}) {
		t.Errorf("Stop asked about %v", asked)
	}
	if rec.ran("p2/a") || rec.ran("p2/b") {
		t.Error("a stopped vertex ran")
	}
}

// TestWalkRandom is a property test over random graphs and outcomes: a
// vertex runs exactly when all its upstream Passed or Skipped (or, with
// StopOnFailure, is held back only after a failure), each edge is respected,
// and the root causes are exactly the vertices that ran and failed.
func TestWalkRandom(t *testing.T) {
	statuses := []Status{Passed, Passed, Passed, Passed, Skipped, Skipped, Failed, Blocked}
	for seed := range uint64(100) {
		r := rand.New(rand.NewPCG(seed, 11))
		names, edges := randomDAG(r, 1+r.IntN(80))
		outcome := map[string]Status{}
		for _, n := range names {
			outcome[n] = statuses[r.IntN(len(statuses))]
		}
		stop := seed%2 == 1
		g := build(t, names, edges...)
		rec := newRecorder(outcome)
		res := WalkOptions{StopOnFailure: stop}.Walk(context.Background(), g, rec.fn)
		rec.checkOrder(t, g)

		var wantFailed []string
		for _, id := range names {
			upOK := true
			for _, u := range g.Up(id) {
				if s := res.Status(u.ID()); s != Passed && s != Skipped {
					upOK = false
				}
			}
			ran := rec.ran(id)
			switch {
			case ran && !upOK:
				t.Fatalf("seed %d: %s ran although its upstream did not pass", seed, id)
			case ran && res.Status(id) != outcome[id]:
				t.Fatalf("seed %d: %s returned %v but is recorded %v", seed, id, outcome[id], res.Status(id))
			case !ran && upOK && !(stop && res.Reason(id) == Stopped && len(res.Failed) > 0):
				t.Fatalf("seed %d: %s did not run (%v, %v) although its upstream passed", seed, id, res.Status(id), res.Reason(id))
			case !ran && !upOK && (res.Status(id) != Blocked || res.Reason(id) != Upstream):
				t.Fatalf("seed %d: %s is %v/%v, want blocked/upstream", seed, id, res.Status(id), res.Reason(id))
			}
			if ran && outcome[id] == Failed {
				wantFailed = append(wantFailed, id)
			}
		}
		if !slices.Equal(slices.Sorted(slices.Values(res.Failed)), slices.Sorted(slices.Values(wantFailed))) {
			t.Fatalf("seed %d: Failed = %v, want %v", seed, res.Failed, wantFailed)
		}
		if res.Count(Pending) != 0 {
			t.Fatalf("seed %d: %d vertices left pending", seed, res.Count(Pending))
		}
	}
}
