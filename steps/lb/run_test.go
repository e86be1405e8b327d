package lb

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/steptest"
)

// script is a driver whose instances only record what they are asked to
// do, failing the operations named in fail ("drain b", "wait", ...). It
// tests the order Drain and Enable impose; the drivers' own tests run
// against real load balancers.
type script struct {
	names []string
	fail  map[string]bool
	calls []string
	// cancel, when set, is called as the wait begins (the step is stopped).
	cancel func()
	// putBacks records, for each put-back, its context's error and deadline
	// when it ran.
	putBacks []seenCtx
}

type seenCtx struct {
	err      error
	deadline time.Time
	ok       bool
}

type scriptInstance struct {
	s    *script
	name string
}

var (
	_ Driver        = (*script)(nil)
	_ UpWaiter      = (*script)(nil)
	_ EnableChecker = (*scriptInstance)(nil)
)

func (s *script) do(op string) error {
	s.calls = append(s.calls, op)
	if s.fail[op] {
		return errors.New(op + " failed")
	}
	return nil
}

func (s *script) Open(rc step.Context, t Target) ([]Instance, error) {
	if err := s.do("open"); err != nil {
		return nil, err
	}
	var out []Instance
	for _, n := range s.names {
		out = append(out, &scriptInstance{s, n})
	}
	return out, nil
}

func (s *script) WaitIdle(ctx context.Context, rc step.Context, t Target, ins []Instance, o DrainOptions) (map[string]any, error) {
	if s.cancel != nil {
		s.cancel()
		return map[string]any{"polls": 1}, ctx.Err()
	}
	return map[string]any{"polls": 3}, s.do("wait")
}

func (s *script) WaitUp(ctx context.Context, rc step.Context, t Target, ins []Instance, o EnableOptions) error {
	return s.do("up")
}

func (s *script) ExplainDrain(step.Context, Target, DrainOptions) ([]string, error) { return nil, nil }
func (s *script) ExplainEnable(step.Context, Target, EnableOptions) ([]string, error) {
	return nil, nil
}

func (i *scriptInstance) Name() string { return i.name }

func (i *scriptInstance) CheckDrain(ctx context.Context, rc step.Context) (map[string]any, error) {
	return map[string]any{"weights": len(i.name)}, i.s.do("check " + i.name)
}

func (i *scriptInstance) CheckEnable(ctx context.Context, rc step.Context) error {
	return i.s.do("check-enable " + i.name)
}

func (i *scriptInstance) Drain(ctx context.Context, rc step.Context, o DrainOptions) error {
	return i.s.do("drain " + i.name)
}

func (i *scriptInstance) Enable(ctx context.Context, rc step.Context, o EnableOptions) (map[string]any, error) {
	if o == (EnableOptions{Become: o.Become}) {
		dl, ok := ctx.Deadline()
		i.s.putBacks = append(i.s.putBacks, seenCtx{ctx.Err(), dl, ok})
	}
	return map[string]any{"up": true}, i.s.do("enable " + i.name)
}

func target() Target {
	return NewTarget(step.LoadBalancer{Name: "web", Driver: "script", Backend: "app"}, step.Node{Name: "n1"})
}

func TestDrainOrder(t *testing.T) {
	tests := []struct {
		name    string
		fail    string
		calls   string
		wantErr string
		data    map[string]any
	}{
		{name: "every instance drained, then the wait",
			calls: "open, check a, check bb, drain a, drain bb, wait",
			data:  map[string]any{"weights": map[string]any{"a": 1, "bb": 2}, "polls": 3}},
		{name: "a check fails: nothing changes", fail: "check bb",
			calls: "open, check a, check bb", wantErr: "check bb failed"},
		{name: "the first drain fails: nothing to put back", fail: "drain a",
			calls: "open, check a, check bb, drain a", wantErr: "drain a failed",
			data: map[string]any{"weights": map[string]any{"a": 1, "bb": 2}}},
		{name: "the second drain fails: the first is put back", fail: "drain bb",
			calls: "open, check a, check bb, drain a, drain bb, enable a", wantErr: "drain bb failed (put back on 1 instance(s))"},
		{name: "the wait fails: every instance is put back", fail: "wait",
			calls: "open, check a, check bb, drain a, drain bb, wait, enable a, enable bb", wantErr: "wait failed (put back on 2 instance(s))"},
		{name: "putting back fails too", fail: "wait,enable a",
			calls: "open, check a, check bb, drain a, drain bb, wait, enable a, enable bb", wantErr: "wait failed; putting it back also failed: enable a failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &script{names: []string{"a", "bb"}, fail: map[string]bool{}}
			for _, f := range strings.Split(tc.fail, ",") {
				s.fail[f] = f != ""
			}
			data, err := Drain(context.Background(), &steptest.Context{}, s, target(), DrainOptions{Become: true})
			if got := strings.Join(s.calls, ", "); got != tc.calls {
				t.Errorf("calls = %s\nwant    %s", got, tc.calls)
			}
			if (err == nil) != (tc.wantErr == "") || err != nil && err.Error() != tc.wantErr {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
			if tc.data != nil && !reflect.DeepEqual(data, tc.data) {
				t.Errorf("data = %v, want %v", data, tc.data)
			}
		})
	}
}

// The put-back runs on a context of its own: the step's, once stopped,
// would stop it too, and leave the node drained.
func TestDrainPutsBackAfterTheStepStopped(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &script{names: []string{"a", "bb"}, cancel: cancel}
	before := time.Now()
	_, err := Drain(ctx, &steptest.Context{}, s, target(), DrainOptions{})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "(put back on 2 instance(s))") {
		t.Fatalf("err = %v, want the cancellation and the put-back", err)
	}
	if len(s.putBacks) != 2 {
		t.Fatalf("put back on %d instances, want 2", len(s.putBacks))
	}
	for _, p := range s.putBacks {
		if p.err != nil || !p.ok || p.deadline.After(before.Add(PutBackTimeout+time.Minute)) {
			t.Errorf("put-back context: err %v, deadline %v (set %v); want a live one bounded by PutBackTimeout", p.err, p.deadline, p.ok)
		}
	}
}

func TestEnableOrder(t *testing.T) {
	tests := []struct {
		name    string
		fail    string
		waitUp  bool
		calls   string
		wantErr string
	}{
		{name: "every instance, then the wait", waitUp: true,
			calls: "open, check-enable a, check-enable bb, enable a, enable bb, up"},
		{name: "no wait asked",
			calls: "open, check-enable a, check-enable bb, enable a, enable bb"},
		{name: "a check fails: nothing changes", fail: "check-enable bb", waitUp: true,
			calls: "open, check-enable a, check-enable bb", wantErr: "check-enable bb failed"},
		{name: "one fails: the others are still enabled", fail: "enable a", waitUp: true,
			calls: "open, check-enable a, check-enable bb, enable a, enable bb", wantErr: "enable a failed"},
		{name: "the wait fails", fail: "up", waitUp: true,
			calls: "open, check-enable a, check-enable bb, enable a, enable bb, up", wantErr: "up failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &script{names: []string{"a", "bb"}, fail: map[string]bool{tc.fail: tc.fail != ""}}
			data, err := Enable(context.Background(), &steptest.Context{}, s, target(), EnableOptions{WaitUp: tc.waitUp, Weight: "50%"})
			if got := strings.Join(s.calls, ", "); got != tc.calls {
				t.Errorf("calls = %s\nwant    %s", got, tc.calls)
			}
			if (err == nil) != (tc.wantErr == "") || err != nil && err.Error() != tc.wantErr {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
			if tc.wantErr == "" && fmt.Sprint(data) != "map[up:map[a:true bb:true]]" {
				t.Errorf("data = %v", data)
			}
		})
	}
}
