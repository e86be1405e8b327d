package run

import (
	"context"
	"testing"
	"time"
)

// fakeClock is a pacer's clock: sleeping moves it on.
type fakeClock struct {
	t     time.Time
	slept []time.Duration
}

func (c *fakeClock) now() time.Time { return c.t }
func (c *fakeClock) sleep(_ context.Context, d time.Duration) error {
	c.slept = append(c.slept, d)
	return nil
}

// TestPacerSchedule: a burst goes at once, later starts one interval apart;
// after a pause the burst is back, never more than burst.
func TestPacerSchedule(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	p := newPacer(100, 3) // every 10ms, burst 3
	p.now, p.sleep = clk.now, clk.sleep
	for range 6 {
		if err := p.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	want := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond}
	if len(clk.slept) != len(want) {
		t.Fatalf("waits %v, want %v (three at once, then one every 10ms)", clk.slept, want)
	}
	for i := range want {
		if clk.slept[i] != want[i] {
			t.Fatalf("waits %v, want %v", clk.slept, want)
		}
	}
	// A second later the schedule has caught up: a burst of 3 again, then waits.
	clk.t = clk.t.Add(time.Second)
	clk.slept = nil
	for range 4 {
		_ = p.wait(context.Background())
	}
	if len(clk.slept) != 1 || clk.slept[0] != 10*time.Millisecond {
		t.Fatalf("after a pause: waits %v, want one of 10ms after a burst of 3", clk.slept)
	}
}

// TestPacerOff: no rate is no pacing; a cancelled context is still an error.
func TestPacerOff(t *testing.T) {
	if p := newPacer(0, 10); p != nil {
		t.Fatalf("rate 0 paces: %+v", p)
	}
	var p *pacer
	if err := p.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	q := newPacer(1, 1)
	if err := q.wait(ctx); err == nil {
		t.Fatal("a cancelled wait returned no error")
	}
}
