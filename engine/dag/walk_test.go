package dag

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is a WalkFunc that stamps each start and finish with a global
// sequence number, returns a scripted status (Passed by default) and can run
// a scripted action first.
type recorder struct {
	seq     atomic.Int64
	outcome map[string]Status
	action  map[string]func(ctx context.Context) Status

	mu    sync.Mutex
	start map[string]int64
	end   map[string]int64
}

func newRecorder(outcome map[string]Status) *recorder {
	return &recorder{
		outcome: outcome,
		action:  map[string]func(context.Context) Status{},
		start:   map[string]int64{},
		end:     map[string]int64{},
	}
}

func (r *recorder) fn(ctx context.Context, x Vertex) Status {
	s := r.seq.Add(1)
	r.mu.Lock()
	if _, twice := r.start[x.ID()]; twice {
		r.start[x.ID()] = -1 // checkOrder reports it
	} else {
		r.start[x.ID()] = s
	}
	r.mu.Unlock()

	st, ok := r.outcome[x.ID()]
	if !ok {
		st = Passed
	}
	if a := r.action[x.ID()]; a != nil {
		st = a(ctx)
	}

	s = r.seq.Add(1)
	r.mu.Lock()
	r.end[x.ID()] = s
	r.mu.Unlock()
	return st
}

// checkOrder asserts that fn ran at most once per vertex, and that every
// vertex that ran started after each of its upstream vertices finished.
func (r *recorder) checkOrder(t *testing.T, g *Graph) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, s := range r.start {
		if s < 0 {
			t.Errorf("%s ran more than once", id)
		}
		for _, up := range g.Up(id) {
			e, ok := r.end[up.ID()]
			if !ok || e > s {
				t.Errorf("%s started (seq %d) before upstream %s finished (seq %d, ran %v)", id, s, up.ID(), e, ok)
			}
		}
	}
}

func (r *recorder) ran(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.start[id]
	return ok
}

type want struct {
	status Status
	reason Reason
}

func TestWalk(t *testing.T) {
	tests := []struct {
		name    string
		ids     []string
		edges   [][2]string
		outcome map[string]Status
		want    map[string]want
		failed  []string
	}{
		{
			name:  "all pass",
			ids:   []string{"a", "b", "c", "d"},
			edges: [][2]string{e("a", "b"), e("a", "c"), e("b", "d"), e("c", "d")},
			want: map[string]want{
				"a": {Passed, 0}, "b": {Passed, 0}, "c": {Passed, 0}, "d": {Passed, 0},
			},
		},
		{
			name:    "failure blocks downstream only, root cause reported once",
			ids:     []string{"a", "b", "c", "x", "y"},
			edges:   [][2]string{e("a", "b"), e("b", "c"), e("x", "y")},
			outcome: map[string]Status{"a": Failed},
			want: map[string]want{
				"a": {Failed, 0}, "b": {Blocked, Upstream}, "c": {Blocked, Upstream},
				"x": {Passed, 0}, "y": {Passed, 0},
			},
			failed: []string{"a"},
		},
		{
			name:    "one failed upstream of several blocks",
			ids:     []string{"ok", "bad", "join"},
			edges:   [][2]string{e("ok", "join"), e("bad", "join")},
			outcome: map[string]Status{"bad": Failed},
			want: map[string]want{
				"ok": {Passed, 0}, "bad": {Failed, 0}, "join": {Blocked, Upstream},
			},
			failed: []string{"bad"},
		},
		{
			name:    "skip does not block",
			ids:     []string{"when-false", "next", "last"},
			edges:   [][2]string{e("when-false", "next"), e("next", "last")},
			outcome: map[string]Status{"when-false": Skipped},
			want: map[string]want{
				"when-false": {Skipped, 0}, "next": {Passed, 0}, "last": {Passed, 0},
			},
		},
		{
			name:    "fn returning Blocked blocks downstream but is no root cause",
			ids:     []string{"a", "b"},
			edges:   [][2]string{e("a", "b")},
			outcome: map[string]Status{"a": Blocked},
			want:    map[string]want{"a": {Blocked, NotBlocked}, "b": {Blocked, Upstream}},
		},
		{
			name:    "invalid status counts as failure",
			ids:     []string{"a", "b"},
			edges:   [][2]string{e("a", "b")},
			outcome: map[string]Status{"a": Status(42)},
			want:    map[string]want{"a": {Failed, 0}, "b": {Blocked, Upstream}},
			failed:  []string{"a"},
		},
		{name: "empty graph", want: map[string]want{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := build(t, tt.ids, tt.edges...)
			rec := newRecorder(tt.outcome)
			res := Walk(context.Background(), g, rec.fn)
			rec.checkOrder(t, g)
			checkResult(t, res, tt.want)
			if !slices.Equal(res.Failed, tt.failed) {
				t.Errorf("Failed = %v, want %v", res.Failed, tt.failed)
			}
			for id, w := range tt.want {
				if ran := rec.ran(id); ran != (w.reason == NotBlocked) {
					t.Errorf("%s ran = %v, want %v", id, ran, !ran)
				}
			}
			if len(res.Started) != len(res.Finished) || len(res.Started) != int(rec.seq.Load()/2) {
				t.Errorf("Started %v / Finished %v disagree with %d calls", res.Started, res.Finished, rec.seq.Load()/2)
			}
			wantOK := len(tt.failed) == 0 && res.Count(Blocked) == 0
			if res.OK() != wantOK {
				t.Errorf("OK() = %v, want %v", res.OK(), wantOK)
			}
		})
	}
}

func checkResult(t *testing.T, res *Result, want map[string]want) {
	t.Helper()
	for _, id := range slices.Sorted(maps.Keys(want)) {
		w := want[id]
		if got := res.Status(id); got != w.status {
			t.Errorf("Status(%s) = %v, want %v", id, got, w.status)
		}
		if got := res.Reason(id); got != w.reason {
			t.Errorf("Reason(%s) = %q, want %q", id, got, w.reason)
		}
	}
}

// TestWalkConcurrent proves ready vertices run at the same time without
// timing anything: each of the n children waits until all n are inside fn.
// A walker running fewer at once would never get there, and the context
// deadline turns that into a failure instead of a hang.
func TestWalkConcurrent(t *testing.T) {
	const n = 50
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	g := build(t, []string{"root", "sink"})
	var inside atomic.Int32
	all := make(chan struct{})
	rec := newRecorder(nil)
	for i := range n {
		id := "child" + itoa(i)
		if err := g.Add(v{id: id}); err != nil {
			t.Fatal(err)
		}
		for _, err := range []error{g.Connect("root", id), g.Connect(id, "sink")} {
			if err != nil {
				t.Fatal(err)
			}
		}
		rec.action[id] = func(ctx context.Context) Status {
			if inside.Add(1) == n {
				close(all)
			}
			select {
			case <-all:
				return Passed
			case <-ctx.Done():
				return Failed
			}
		}
	}
	res := Walk(ctx, g, rec.fn)
	rec.checkOrder(t, g)
	if !res.OK() || res.Status("sink") != Passed {
		t.Fatalf("children did not all run at once: failed %v, sink %v", res.Failed, res.Status("sink"))
	}
	if res.Started[0] != "root" || res.Finished[len(res.Finished)-1] != "sink" {
		t.Errorf("Started %v... / Finished ...%v: root must start first, sink finish last",
			res.Started[0], res.Finished[len(res.Finished)-1])
	}
}

func TestWalkPanic(t *testing.T) {
	g := build(t, []string{"boom", "after", "other"}, e("boom", "after"))
	rec := newRecorder(nil)
	rec.action["boom"] = func(context.Context) Status { panic("step exploded") }
	res := Walk(context.Background(), g, rec.fn)
	checkResult(t, res, map[string]want{
		"boom": {Failed, 0}, "after": {Blocked, Upstream}, "other": {Passed, 0},
	})
	if err := res.Errors["boom"]; err == nil || !strings.Contains(err.Error(), "step exploded") {
		t.Errorf("Errors[boom] = %v, want the panic value", err)
	}
}

func TestWalkCycle(t *testing.T) {
	g := build(t, []string{"a", "b", "c"}, e("a", "b"), e("b", "a"), e("a", "c"))
	rec := newRecorder(nil)
	var told []string
	res := WalkOptions{OnBlocked: func(x Vertex, why Reason) {
		told = append(told, x.ID()+":"+why.String())
	}}.Walk(context.Background(), g, rec.fn)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "cycle: a -> b -> a") {
		t.Errorf("Err = %v, want the cycle", res.Err)
	}
	if rec.seq.Load() != 0 || len(res.Started) != 0 || res.OK() {
		t.Errorf("a cyclic graph ran %d vertices", rec.seq.Load()/2)
	}
	checkResult(t, res, map[string]want{"a": {Blocked, Cycle}, "b": {Blocked, Cycle}, "c": {Blocked, Cycle}})
	if !slices.Equal(told, []string{"a:cycle", "b:cycle", "c:cycle"}) {
		t.Errorf("OnBlocked saw %v", told)
	}
}
