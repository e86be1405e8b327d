package lb

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/steptest"
)

// pooled is an instance whose pool is a list of states that a test
// changes while a drain waits; each read takes the next of polls, if any,
// then keeps the last.
type pooled struct {
	name  string
	mu    sync.Mutex
	polls [][]ServerState
	reads int
}

var (
	_ Instance   = (*pooled)(nil)
	_ PoolReader = (*pooled)(nil)
)

func (p *pooled) Name() string { return p.name }
func (p *pooled) CheckDrain(context.Context, step.Context) (map[string]any, error) {
	return nil, nil
}
func (p *pooled) Drain(context.Context, step.Context, DrainOptions) error { return nil }
func (p *pooled) Enable(context.Context, step.Context, EnableOptions) (map[string]any, error) {
	return nil, nil
}
func (p *pooled) Pool(context.Context, step.Context) ([]ServerState, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := min(p.reads, len(p.polls)-1)
	p.reads++
	return p.polls[i], nil
}

func up(name string) ServerState   { return ServerState{Name: name, Serving: true, State: "UP"} }
func down(name string) ServerState { return ServerState{Name: name, State: "DOWN"} }
func self() ServerState            { return ServerState{Name: "s1", Serving: true, State: "UP", Self: true} }

// checkPool's decisions, on pools that change from one read to the next:
// it refuses at once without a wait, or when no recovery can help; it
// waits (saying so once per change of what it sees) and goes on when the
// pool recovers; it refuses at the end of its wait naming what does not
// serve.
func TestCheckPool(t *testing.T) {
	tests := []struct {
		name       string
		minHealthy int
		percent    bool
		wait       time.Duration
		polls      [][]ServerState
		wantErr    []string // every one in the error; none: it passes
		wantWaits  int
		wantWaited bool
	}{
		{name: "holds", minHealthy: 2, polls: [][]ServerState{{self(), up("s2"), up("s3")}}},
		{name: "no check", minHealthy: 0, polls: [][]ServerState{{self(), down("s2")}}},
		{name: "refused without a wait", minHealthy: 2, polls: [][]ServerState{{self(), down("s2"), up("s3")}},
			wantErr: []string{"refusing to drain app/s1 from load balancer web: minHealthy 2 needs 2 other server(s) serving: on lb1 only 1 other server(s) would keep serving [s3]; not serving: s2 (DOWN)"}},
		{name: "recovers", minHealthy: 2, wait: time.Minute,
			polls:     [][]ServerState{{self(), down("s2"), up("s3")}, {self(), down("s2"), up("s3")}, {self(), up("s2"), up("s3")}},
			wantWaits: 1, wantWaited: true},
		{name: "what it waits for changes", minHealthy: 2, wait: time.Minute,
			polls:     [][]ServerState{{self(), down("s2"), up("s3")}, {self(), up("s2"), down("s3")}, {self(), up("s2"), up("s3")}},
			wantWaits: 2, wantWaited: true},
		{name: "never", minHealthy: 3, wait: time.Minute, polls: [][]ServerState{{self(), up("s2"), up("s3")}},
			wantErr: []string{"the backend has only 2 other server(s) [s2 s3] (no wait can help)"}},
		{name: "percent holds", minHealthy: 50, percent: true, polls: [][]ServerState{{self(), up("s2"), down("s3"), up("s4")}}},
		{name: "percent short", minHealthy: 75, percent: true, polls: [][]ServerState{{self(), up("s2"), down("s3"), up("s4")}},
			wantErr: []string{"minHealthy 75% of 4 server(s) needs 3 other server(s) serving", "not serving: s3 (DOWN)"}},
		{name: "bounded", minHealthy: 1, wait: 30 * time.Millisecond, polls: [][]ServerState{{self(), down("s2")}},
			wantErr: []string{"not serving: s2 (DOWN); still so after waiting", "(minHealthyWait 30ms)"}, wantWaits: 1, wantWaited: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &pooled{name: "lb1", polls: tc.polls}
			tg := Target{LB: step.LoadBalancer{Name: "web", Driver: "fake", Backend: "app", MinHealthy: tc.minHealthy, MinHealthyPercent: tc.percent}, Server: "s1"}
			rc := &steptest.Context{}
			o := DrainOptions{Interval: time.Millisecond, MinHealthyWait: tc.wait}
			waited, err := checkPool(context.Background(), rc, tg, []Instance{in}, o)
			if len(tc.wantErr) == 0 && err != nil {
				t.Fatalf("checkPool: %v", err)
			}
			for _, want := range tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("err = %v, want it to say %q", err, want)
				}
			}
			if got := len(rc.Waits()); got != tc.wantWaits {
				t.Errorf("reported %d wait(s) %+v, want %d", got, rc.Waits(), tc.wantWaits)
			}
			for _, w := range rc.Waits() {
				if w.For != "minHealthy" || !strings.Contains(w.Message, "not serving:") || w.Detail["lb"] != "web" {
					t.Errorf("reported wait %+v: want one for minHealthy naming what does not serve", w)
				}
			}
			if (waited > 0) != tc.wantWaited {
				t.Errorf("waited %s, want a wait: %v", waited, tc.wantWaited)
			}
		})
	}
}

// A wait cut short by the step's end says what it was waiting for.
func TestCheckPoolCancelled(t *testing.T) {
	in := &pooled{name: "lb1", polls: [][]ServerState{{self(), down("s2")}}}
	tg := Target{LB: step.LoadBalancer{Name: "web", Backend: "app", MinHealthy: 1}, Server: "s1"}
	rc := &steptest.Context{}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for len(rc.Waits()) == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err := checkPool(ctx, rc, tg, []Instance{in}, DrainOptions{Interval: time.Millisecond, MinHealthyWait: time.Hour})
	if err == nil || !strings.Contains(err.Error(), "s2 (DOWN)") || !strings.Contains(err.Error(), context.Canceled.Error()) {
		t.Errorf("err = %v, want the cancellation naming s2 (DOWN)", err)
	}
}

// A driver whose instances cannot report their pool cannot enforce
// minHealthy: a clear error, not a silent pass.
func TestCheckPoolUnsupported(t *testing.T) {
	s := &script{names: []string{"a"}}
	ins, _ := s.Open(nil, Target{})
	tg := Target{LB: step.LoadBalancer{Name: "web", Driver: "command", MinHealthy: 1}, Server: "s1"}
	_, err := checkPool(context.Background(), &steptest.Context{}, tg, ins, DrainOptions{})
	if err == nil || !strings.Contains(err.Error(), "the command driver cannot report its servers' states") {
		t.Errorf("err = %v", err)
	}
}
