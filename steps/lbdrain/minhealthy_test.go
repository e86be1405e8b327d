package lbdrain

import (
	"strings"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/steptest"
)

// minHealthy as a count and as a percentage of the backend, against a real
// HAProxy whose health checks see s2 fail: the drain of s1 waits while the
// minimum would be broken and goes on once s2 is UP again; without its
// return it refuses at the end of the wait, naming s2, with s1 untouched.
func TestHAProxyMinHealthyWait(t *testing.T) {
	shapes := []struct {
		name       string
		minHealthy int
		percent    bool
	}{
		{name: "count", minHealthy: 2},
		// 60% of 3 servers, rounded up, is 2 other servers.
		{name: "percent", minHealthy: 60, percent: true},
	}
	for _, sh := range shapes {
		t.Run(sh.name+"/recovers", func(t *testing.T) {
			r := minHealthyRig(t, sh.minHealthy, sh.percent)
			h, s2 := r.hs[0], r.bs[1]
			type result struct {
				out step.Outcome
				err error
			}
			act, err := steptest.Build("lb-drain", with(fastDrain, "minHealthyWait", "40s"))
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan result, 1)
			go func() {
				out, err := steptest.Run(act, r.rc, 40*time.Second)
				done <- result{out, err}
			}()
			var early *result
			waitFor(t, "the drain to say it waits", func() bool {
				select {
				case res := <-done:
					early = &res
					return true
				default:
				}
				return len(r.rc.Waits()) > 0 && strings.Contains(r.rc.Logged(), "waiting up to 40s (minHealthyWait")
			})
			if early != nil {
				t.Fatalf("the drain ended (%v) before it said it waits\n%s", early.err, r.rc.Logged())
			}
			w := r.rc.Waits()[0]
			if w.For != "minHealthy" || !strings.Contains(w.Message, "s2 (DOWN)") || w.Until.IsZero() {
				t.Errorf("reported wait = %+v, want one for minHealthy naming s2 (DOWN), with its end", w)
			}
			if st := row(t, h, "s1").Status(); st != "UP" {
				t.Errorf("s1 is %q while the drain waits, want UP (not drained yet)", st)
			}
			s2.SetHealthy(true)
			res := <-done
			if res.err != nil {
				t.Fatalf("drain after s2 came back: %v\n%s", res.err, r.rc.Logged())
			}
			if st := row(t, h, "s1").Status(); st != "DRAIN" {
				t.Errorf("s1 after the drain = %q, want DRAIN", st)
			}
			if res.out.Data["minHealthyWaited"] == nil {
				t.Errorf("drain data %v has no minHealthyWaited", res.out.Data)
			}
			if !strings.Contains(r.rc.Logged(), "has enough servers serving again") {
				t.Errorf("node log does not say the pool recovered:\n%s", r.rc.Logged())
			}
		})
		t.Run(sh.name+"/refuses after the wait", func(t *testing.T) {
			r := minHealthyRig(t, sh.minHealthy, sh.percent)
			_, err := run(t, "lb-drain", with(fastDrain, "minHealthyWait", "2s"), r.rc)
			if err == nil {
				t.Fatalf("drain passed with s2 DOWN throughout\n%s", r.rc.Logged())
			}
			for _, want := range []string{"refusing to drain app/s1", "not serving: s2 (DOWN)", "minHealthyWait 2s"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("err = %v, want it to say %q", err, want)
				}
			}
			if len(r.rc.Waits()) == 0 {
				t.Errorf("the drain refused without reporting its wait\n%s", r.rc.Logged())
			}
			if st := row(t, r.hs[0], "s1").Status(); st != "UP" {
				t.Errorf("s1 status = %q after a refused drain, want UP", st)
			}
		})
	}
}

// Without minHealthyWait the refusal is at once, as before, and names the
// server that does not serve.
func TestHAProxyMinHealthyNoWait(t *testing.T) {
	r := minHealthyRig(t, 60, true)
	_, err := run(t, "lb-drain", fastDrain, r.rc)
	if err == nil || !strings.Contains(err.Error(), "minHealthy 60% of 3 server(s) needs 2 other server(s) serving") ||
		!strings.Contains(err.Error(), "s2 (DOWN)") {
		t.Fatalf("err = %v, want a refusal naming the rule and s2 (DOWN)", err)
	}
	if len(r.rc.Waits()) != 0 {
		t.Errorf("reported waits %v, want none", r.rc.Waits())
	}
}

// minHealthyRig is three servers behind one HAProxy with health checks,
// s2 failing them and reported DOWN.
func minHealthyRig(t *testing.T, minHealthy int, percent bool) *rig {
	t.Helper()
	r := newRig(t, 3, 1, minHealthy)
	r.lb.MinHealthyPercent = percent
	r.rc = r.context()
	r.bs[1].SetHealthy(false)
	waitFor(t, "s2 DOWN in HAProxy", func() bool { return row(t, r.hs[0], "s2").Status() == "DOWN" })
	return r
}
