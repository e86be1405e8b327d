package gate

import (
	"strings"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/engine/probe"
)

var t0 = time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)

// seconds makes n one-second intervals from second from on, each with req
// requests, failed of them failed, and a p99 of p99 ms.
func seconds(from, n int, req, failed int64, p99 float64) []probe.Interval {
	var out []probe.Interval
	for i := range n {
		out = append(out, probe.Interval{Start: t0.Add(time.Duration(from+i) * time.Second), Requests: req, Failed: failed, P99MS: p99})
	}
	return out
}

func TestErrorRate(t *testing.T) {
	j := NewJudge(Spec{Window: 10 * time.Second, MaxErrorPercent: 1})
	if b := j.Observe(seconds(0, 10, 200, 1, 5)...); b != nil {
		t.Fatalf("0.5%% failed breached a 1%% gate: %v", b)
	}
	// A canary serving a third of the traffic with 5% errors: ~1.7%.
	b := j.Observe(seconds(10, 10, 200, 4, 5)...)
	if b == nil || b.Gate != "errorRate" {
		t.Fatalf("2%% failed did not breach a 1%% gate: %v", b)
	}
	if b.Figures.Requests != 2000 || b.Figures.ErrorPercent <= 1 || !strings.Contains(b.Error(), "failed") {
		t.Errorf("figures %+v: %s", b.Figures, b.Error())
	}
}

func TestTooFewRequestsAreNotJudged(t *testing.T) {
	j := NewJudge(Spec{Window: 3 * time.Second, MaxErrorPercent: 1, MinRequests: 50})
	if b := j.Observe(seconds(0, 3, 10, 10, 5)...); b != nil {
		t.Fatalf("30 requests judged: %v", b)
	}
}

func TestOnlyWholeWindowsAreJudged(t *testing.T) {
	j := NewJudge(Spec{Window: 5 * time.Second, MaxP99: 100 * time.Millisecond, MaxErrorPercent: 1})
	// The first seconds after the baseline: a spike in a window of one.
	if b := j.Observe(seconds(0, 1, 200, 100, 900)...); b != nil {
		t.Fatalf("a window of one second judged: %v", b)
	}
	if b := j.Observe(seconds(1, 4, 200, 100, 900)...); b == nil {
		t.Fatal("a whole bad window not judged")
	}
}

func TestLatencyIsTheMedianOfSeconds(t *testing.T) {
	j := NewJudge(Spec{Window: 5 * time.Second, MaxP99: 100 * time.Millisecond})
	// One slow second in five is not a slow version.
	ivs := append(seconds(0, 4, 100, 0, 20), seconds(4, 1, 100, 0, 900)...)
	if b := j.Observe(ivs...); b != nil {
		t.Fatalf("one slow second breached: %v", b)
	}
	if b := j.Observe(seconds(5, 3, 100, 0, 320)...); b == nil || b.Gate != "latency" || b.Figures.P99MS != 320 {
		t.Fatalf("three slow seconds of five: %+v", b)
	}
}

func TestLatencyIncreaseOverBaseline(t *testing.T) {
	j := NewJudge(Spec{Window: 5 * time.Second, MaxP99Increase: 200 * time.Millisecond})
	// No baseline: not judged.
	if b := j.Observe(seconds(0, 5, 100, 0, 900)...); b != nil {
		t.Fatalf("judged without a baseline: %v", b)
	}
	j = NewJudge(Spec{Window: 5 * time.Second, MaxP99Increase: 200 * time.Millisecond})
	if f := j.SetBaseline(seconds(0, 5, 100, 0, 50)); f.P99MS != 50 {
		t.Fatalf("baseline %+v", f)
	}
	if b := j.Observe(seconds(5, 5, 100, 0, 240)...); b != nil {
		t.Fatalf("+190ms breached +200ms: %v", b)
	}
	b := j.Observe(seconds(10, 5, 100, 0, 360)...)
	if b == nil || b.Gate != "latencyIncrease" || b.BaselineP99MS != 50 || !strings.Contains(b.Error(), "over the baseline") {
		t.Fatalf("+310ms: %+v", b)
	}
}

func TestInactive(t *testing.T) {
	if (Spec{Window: time.Second}).Active() {
		t.Error("a spec with no threshold is active")
	}
	j := NewJudge(Spec{})
	if b := j.Observe(seconds(0, 20, 100, 100, 5000)...); b != nil {
		t.Errorf("no gate set, yet breached: %v", b)
	}
}
