package lbdrain

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/steps/lb"
	"github.com/zdu-dev/zdu/steps/lb/haproxy"
	"github.com/zdu-dev/zdu/steps/lb/lbtest"
	"github.com/zdu-dev/zdu/steps/lb/loopback"
	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/steptest"
	"github.com/zdu-dev/zdu/steps/transport"
	"github.com/zdu-dev/zdu/steps/transport/local"
)

var fastDrain = map[string]any{"lb": "web", "polls": 3, "interval": "50ms", "timeout": "20s"}

// drainTimeout is the drain's own timeout in the tests where it must pass
// with sessions still open (held by the backend until released): room for
// at least one look at the sessions on a loaded machine, however many.
const drainTimeout = "2s"

func with(base map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// The whole rolling-upgrade cycle for one node under constant load: drain
// waits for its slow in-flight requests, its restart loses nothing, enable
// brings it back at full weight and it serves the new version.
func TestHAProxyDrainRestartEnable(t *testing.T) {
	r := newRig(t, 3, 1, 1)
	h, s1 := r.hs[0], r.bs[0]
	s1.SetDelay(700 * time.Millisecond)
	load := lbtest.StartLoad(h.URL+"/", 12)
	waitFor(t, "slow requests in flight on s1", func() bool { return s1.InFlight() >= 2 })
	servedBefore := s1.Served()

	out, err := run(t, "lb-drain", fastDrain, r.rc)
	if err != nil {
		t.Fatalf("drain: %v\n%s", err, r.rc.Logged())
	}
	// The step returned only once s1's in-flight requests had been answered.
	if n := s1.InFlight(); n != 0 {
		t.Errorf("s1 has %d requests in flight after the drain returned", n)
	}
	servedAtDrain := s1.Served()
	if servedAtDrain <= servedBefore {
		t.Errorf("s1 answered no request during the drain (%d then %d): the drain did not wait for any", servedBefore, servedAtDrain)
	}
	if st := row(t, h, "s1"); st.Status() != "DRAIN" || st.Int("scur") != 0 || st.Int("qcur") != 0 {
		t.Errorf("s1 after drain: status %q scur %d qcur %d", st.Status(), st.Int("scur"), st.Int("qcur"))
	}
	if out.Undo == nil || out.Undo.Key != "lb/web/node-1" {
		t.Fatalf("drain undo = %+v, want key lb/web/node-1", out.Undo)
	}

	// The upgrade: restart s1 with a new version while clients keep going.
	s1.SetDelay(0)
	s1.SetVersion("v2")
	if err := s1.Restart(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	others := r.bs[1].Served() + r.bs[2].Served()
	waitFor(t, "traffic on the other servers", func() bool { return r.bs[1].Served()+r.bs[2].Served() > others+50 })
	if s1.Served() != servedAtDrain {
		t.Errorf("drained s1 answered %d requests after the drain", s1.Served()-servedAtDrain)
	}

	// The nova seed's leftover: a weight of 0 must not survive the enable.
	command(t, h, "set weight app/s1 0")
	out, err = run(t, "lb-enable", map[string]any{"lb": "web", "healthUrl": s1.URL() + "/health", "interval": "50ms", "timeout": "20s"}, r.rc)
	if err != nil {
		t.Fatalf("enable: %v\n%s", err, r.rc.Logged())
	}
	if len(out.Settles) != 1 || out.Settles[0] != "lb/web/node-1" {
		t.Errorf("enable settles %v, want [lb/web/node-1]", out.Settles)
	}
	if w := weight(t, h, "s1"); w != "10 (initial 10)" {
		t.Errorf("get weight app/s1 = %q, want %q", w, "10 (initial 10)")
	}
	if st := row(t, h, "s1"); st.Status() != "UP" {
		t.Errorf("s1 status after enable = %q, want UP", st.Status())
	}
	waitFor(t, "s1 v2 to take traffic", func() bool { return load.Counts().ByBody["s1 v2"] >= 20 })

	c := load.Stop()
	if c.Failed != 0 {
		t.Errorf("failed client requests = %d, want 0: %v", c.Failed, c)
	}
	if c.ByBody["s1 v1"] == 0 || c.ByBody["s1 v2"] == 0 {
		t.Errorf("answers by body %v: want both s1 versions", c.ByBody)
	}
	counters(t, h, lbtest.Counters{})
}

// The plan's choice at the drain timeout.
func TestHAProxyDrainTimeout(t *testing.T) {
	tests := []struct {
		onTimeout  string
		wantErr    string
		wantStatus string
	}{
		// fail: the node goes back in, the step fails, slow requests finish.
		{onTimeout: "fail", wantErr: "timed out", wantStatus: "UP"},
		// shutdown-sessions: the slow requests are cut and the drain goes on.
		{onTimeout: "shutdown-sessions", wantStatus: "DRAIN"},
	}
	for _, tc := range tests {
		t.Run(tc.onTimeout, func(t *testing.T) {
			r := newRig(t, 2, 1, 1)
			h, s1 := r.hs[0], r.bs[0]
			s1.SetDelay(time.Hour) // held until released, however long the drain takes
			load := lbtest.StartLoad(h.URL+"/", 8)
			waitFor(t, "slow requests in flight on s1", func() bool { return s1.InFlight() >= 2 })

			// The timeout only has to leave room for one look at the sessions.
			out, err := run(t, "lb-drain", with(fastDrain, "timeout", drainTimeout, "onTimeout", tc.onTimeout), r.rc)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "scur=") {
					t.Fatalf("err = %v, want %q and the sessions seen", err, tc.wantErr)
				}
				if out.Undo != nil {
					t.Error("a failed drain registered a compensation; it must put the server back itself")
				}
			} else if err != nil {
				t.Fatalf("drain: %v\n%s", err, r.rc.Logged())
			}
			checkLBReports(t, r.rc.Reported(), map[string]string{"fail": lb.StateReady, "shutdown-sessions": lb.StateIdle}[tc.onTimeout])
			if tc.onTimeout == "shutdown-sessions" {
				// A cut request ends at the backend once it notices the
				// closed connection; then the count of aborted ones is final.
				waitFor(t, "the cut requests to end on s1", func() bool { return s1.InFlight() == 0 })
			}
			s1.SetDelay(0)
			s1.Release()
			if st := row(t, h, "s1").Status(); st != tc.wantStatus {
				t.Errorf("s1 status = %q, want %q", st, tc.wantStatus)
			}
			if w := weight(t, h, "s1"); w != "10 (initial 10)" {
				t.Errorf("get weight app/s1 = %q", w)
			}
			c := load.Stop()
			// Exactly the requests HAProxy cut, as seen by the backend, failed.
			wantFailed := int64(0)
			if tc.onTimeout == "shutdown-sessions" {
				wantFailed = s1.Aborted()
				if wantFailed == 0 {
					t.Error("shutdown sessions cut no request")
				}
				if out.Data["shutdownSessions"] != true {
					t.Errorf("data = %v, want shutdownSessions", out.Data)
				}
			} else if s1.Aborted() != 0 {
				t.Errorf("s1 saw %d aborted requests, want 0", s1.Aborted())
			}
			if c.Failed != wantFailed {
				t.Errorf("failed client requests = %d, want %d: %v", c.Failed, wantFailed, c)
			}
			// HAProxy counts the cut requests it answered with a 502 itself
			// (the others it closed without an answer); never a retry.
			n502 := c.ByStatus[502]
			counters(t, h, lbtest.Counters{Hrsp5xx: n502, Eresp: n502})
		})
	}
}

// minHealthy: refuse before changing anything.
func TestHAProxyMinHealthyGuard(t *testing.T) {
	tests := []struct {
		name       string
		minHealthy int
		prepare    []string // runtime API lines before the drain
		want       string
	}{
		{name: "too few servers", minHealthy: 3, want: "minHealthy 3 needs 3 other server(s) serving: on lb1 the backend has only 2 other server(s) [s2 s3] (no wait can help)"},
		{name: "one in maintenance", minHealthy: 2, prepare: []string{"set server app/s2 state maint"}, want: "on lb1 only 1 other server(s) would keep serving [s3]; not serving: s2 (MAINT)"},
		{name: "one at weight 0", minHealthy: 2, prepare: []string{"set weight app/s3 0"}, want: "on lb1 only 1 other server(s) would keep serving [s2]; not serving: s3 (UP, weight 0)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, 3, 1, tc.minHealthy)
			h := r.hs[0]
			for _, l := range tc.prepare {
				command(t, h, l)
			}
			load := lbtest.StartLoad(h.URL+"/", 4)
			waitFor(t, "traffic", func() bool { return load.Counts().OK > 20 })
			_, err := run(t, "lb-drain", fastDrain, r.rc)
			if err == nil || !strings.Contains(err.Error(), "refusing to drain app/s1") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a refusal with %q", err, tc.want)
			}
			if st := row(t, h, "s1").Status(); st != "UP" {
				t.Errorf("s1 status = %q after a refused drain, want UP", st)
			}
			if c := load.Stop(); c.Failed != 0 {
				t.Errorf("failed client requests = %d, want 0: %v", c.Failed, c)
			}
			counters(t, h, lbtest.Counters{})
		})
	}
}

// A missing socket and a socket below admin level are clear errors naming
// the socket, and nothing changes on the other instance.
func TestHAProxySocketErrors(t *testing.T) {
	tests := []struct {
		name    string
		socket  func(h *loopback.HAProxy) string
		want    string
		isLevel bool
	}{
		{name: "missing", socket: func(h *loopback.HAProxy) string { return h.Dir + "/nope.sock" }, want: "nope.sock via control node): connecting: dial unix"},
		{name: "user level", socket: func(h *loopback.HAProxy) string { return h.UserSocket }, want: `user.sock via control node) is at level "user", zdu needs "admin"`, isLevel: true},
		{name: "operator level", socket: func(h *loopback.HAProxy) string { return h.OperatorSocket }, want: `operator.sock via control node) is at level "operator", zdu needs "admin"`, isLevel: true},
	}
	for _, tc := range tests {
		for _, typ := range []string{"lb-drain", "lb-enable"} {
			t.Run(tc.name+"/"+typ, func(t *testing.T) {
				r := newRig(t, 2, 2, 1)
				// The first instance is fine, the second one is broken.
				r.lb.Instances[1].Config = haproxy.Config{Socket: tc.socket(r.hs[1])}
				rc := r.context()
				_, err := run(t, typ, with(fastDrain), rc)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
				if errors.Is(err, haproxy.ErrLevel) != tc.isLevel {
					t.Errorf("errors.Is(err, ErrLevel) = %v, want %v", !tc.isLevel, tc.isLevel)
				}
				for _, h := range r.hs {
					if st := row(t, h, "s1").Status(); st != "UP" {
						t.Errorf("s1 on %s = %q, want UP (untouched)", h.Socket, st)
					}
				}
			})
		}
	}
}

// Two instances (one on its TCP admin address, reached through another
// node's transport) are drained and enabled together; when one times out,
// the other, already idle, is put back too.
func TestHAProxyInstancesTogether(t *testing.T) {
	r := newRig(t, 2, 2, 1)
	r.lb.Instances[1] = step.LBInstance{Name: "lb2", Via: "lb-host", Config: haproxy.Config{Address: r.hs[1].TCPAddr}}
	rc := r.context()
	rc.Others = map[string]transport.Transport{"lb-host": local.New()}
	s1 := r.bs[0]

	load1 := lbtest.StartLoad(r.hs[0].URL+"/", 4)
	load2 := lbtest.StartLoad(r.hs[1].URL+"/", 4)
	if _, err := run(t, "lb-drain", fastDrain, rc); err != nil {
		t.Fatalf("drain: %v\n%s", err, rc.Logged())
	}
	for _, h := range r.hs {
		if st := row(t, h, "s1").Status(); st != "DRAIN" {
			t.Errorf("s1 on %s = %q, want DRAIN", h.Socket, st)
		}
	}
	if _, err := run(t, "lb-enable", map[string]any{"lb": "web", "interval": "50ms"}, rc); err != nil {
		t.Fatalf("enable: %v\n%s", err, rc.Logged())
	}
	for _, h := range r.hs {
		if st, w := row(t, h, "s1").Status(), weight(t, h, "s1"); st != "UP" || w != "10 (initial 10)" {
			t.Errorf("s1 on %s = %q weight %q, want UP at 10", h.Socket, st, w)
		}
	}
	if c := load1.Stop(); c.Failed != 0 {
		t.Errorf("failed client requests via lb1 = %d, want 0: %v", c.Failed, c)
	}

	// Only lb2 carries slow traffic to s1: lb1 drains at once, lb2 times out.
	s1.SetDelay(time.Hour) // held until released
	waitFor(t, "slow requests on s1", func() bool { return s1.InFlight() >= 1 })
	_, err := run(t, "lb-drain", with(fastDrain, "timeout", drainTimeout), rc)
	if err == nil || !strings.Contains(err.Error(), "haproxy lb2 (tcp:"+r.hs[1].TCPAddr+" via lb-host): scur=") {
		t.Fatalf("err = %v, want a timeout naming lb2's sessions", err)
	}
	s1.SetDelay(0)
	s1.Release()
	for _, h := range r.hs {
		if st := row(t, h, "s1").Status(); st != "UP" {
			t.Errorf("s1 on %s = %q after the failed drain, want UP on every instance", h.Socket, st)
		}
	}
	if c := load2.Stop(); c.Failed != 0 {
		t.Errorf("failed client requests via lb2 = %d, want 0: %v", c.Failed, c)
	}
	for _, h := range r.hs {
		counters(t, h, lbtest.Counters{})
	}
}

// The drain's compensation puts the server back with its weight.
func TestHAProxyUndo(t *testing.T) {
	r := newRig(t, 2, 1, 1)
	h := r.hs[0]
	load := lbtest.StartLoad(h.URL+"/", 4)
	command(t, h, "set weight app/s1 3")
	out, err := run(t, "lb-drain", fastDrain, r.rc)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Data["weights"].(map[string]any)["lb1"]; got != 3 {
		t.Errorf("recorded weight = %v, want 3", got)
	}
	if err := out.Undo.Run(ctxT(t), r.context()); err != nil {
		t.Fatalf("undo: %v", err)
	}
	if st, w := row(t, h, "s1").Status(), weight(t, h, "s1"); st != "UP" || w != "10 (initial 10)" {
		t.Errorf("after undo s1 = %q weight %q, want UP at its configured 10", st, w)
	}
	served := r.bs[0].Served()
	waitFor(t, "s1 to take traffic again", func() bool { return r.bs[0].Served() > served+10 })
	if c := load.Stop(); c.Failed != 0 {
		t.Errorf("failed client requests = %d, want 0: %v", c.Failed, c)
	}
	counters(t, h, lbtest.Counters{})
}

// The health gate keeps a sick node out.
func TestHAProxyEnableHealthGate(t *testing.T) {
	r := newRig(t, 2, 1, 1)
	h, s1 := r.hs[0], r.bs[0]
	load := lbtest.StartLoad(h.URL+"/", 4)
	if _, err := run(t, "lb-drain", fastDrain, r.rc); err != nil {
		t.Fatal(err)
	}
	// The gate wants a status the node never gives (HAProxy's own check,
	// on the same URL, stays happy, so only the gate holds the node back).
	// The gate's time ends once it has seen the node's answer.
	act, err := steptest.Build("lb-enable", map[string]any{"lb": "web", "healthUrl": s1.URL() + "/health", "healthStatus": 204, "interval": "50ms"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := steptest.RunUntil(act, r.rc, func() bool { return strings.Contains(r.rc.Logged(), "status 200") }, 40*time.Second)
	if err == nil || !strings.Contains(err.Error(), "not enabling node-1 in load balancer web") || !strings.Contains(err.Error(), "status 200 (want 204)") {
		t.Fatalf("err = %v, want the health gate to refuse with the status seen", err)
	}
	if len(out.Settles) != 0 {
		t.Errorf("a failed enable settles %v", out.Settles)
	}
	if st := row(t, h, "s1").Status(); st != "DRAIN" {
		t.Errorf("s1 = %q, want it still drained", st)
	}
	if c := load.Stop(); c.Failed != 0 {
		t.Errorf("failed client requests = %d, want 0: %v", c.Failed, c)
	}
	counters(t, h, lbtest.Counters{})
}

// An instance that dies while the drain waits fails the drain, naming it,
// and the surviving instance is put back.
func TestHAProxyInstanceDiesDuringDrain(t *testing.T) {
	r := newRig(t, 2, 2, 1)
	s1 := r.bs[0]
	s1.SetDelay(time.Hour) // held until released: the drain cannot end before lb2 dies
	load := lbtest.StartLoad(r.hs[0].URL+"/", 4)
	waitFor(t, "slow requests on s1", func() bool { return s1.InFlight() >= 1 })
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		ctx := ctxT(t)
		_ = lbtest.WaitUntil(ctx, func() bool {
			st, err := r.hs[0].Stats(ctx)
			if err != nil {
				return false
			}
			s, ok := st.Find("app", "s1")
			return ok && s.Status() == "DRAIN"
		})
		_ = r.hs[1].Close()
	}()
	_, err := run(t, "lb-drain", with(fastDrain, "timeout", "20s"), r.rc)
	<-killed
	s1.SetDelay(0)
	s1.Release()
	// lb2 dies once lb1 shows the drain: on a loaded machine that can be
	// while zdu still reads lb2's answer to its own drain command (a reset)
	// rather than at its next poll (a refused connection). Either way the
	// dead instance is named.
	if err == nil || !strings.Contains(err.Error(), "haproxy lb2 (unix:"+r.hs[1].Socket+" via control node): ") {
		t.Fatalf("err = %v, want the dead instance named", err)
	}
	if st := row(t, r.hs[0], "s1").Status(); st != "UP" {
		t.Errorf("s1 on the surviving instance = %q, want UP", st)
	}
	if c := load.Stop(); c.Failed != 0 {
		t.Errorf("failed client requests = %d, want 0: %v", c.Failed, c)
	}
	counters(t, r.hs[0], lbtest.Counters{})
}

// checkLBReports: a drain reported s1 of load balancer web on lb1 taken
// out with sessions still open, and last in state last.
func checkLBReports(t *testing.T, reps []step.Progress, last string) {
	t.Helper()
	var lbs []step.Progress
	busy := false
	for _, p := range reps {
		if p.Kind != step.ProgressLB {
			continue
		}
		lbs = append(lbs, p)
		if p.Detail["lb"] != "web" || p.Detail["instance"] != "lb1" || p.Detail["server"] != "s1" || p.Subject != "lb1" {
			t.Errorf("lb report %+v: want load balancer web, instance lb1, server s1", p)
		}
		if n, _ := p.Detail["sessions"].(int64); p.Detail["state"] == lb.StateDrain && n >= 1 {
			busy = true
		}
	}
	if len(lbs) == 0 || !busy {
		t.Fatalf("lb reports %+v: want one in state drain with sessions open", lbs)
	}
	if got := lbs[len(lbs)-1].Detail["state"]; got != last {
		t.Errorf("last lb report in state %v, want %s: %+v", got, last, lbs)
	}
}
