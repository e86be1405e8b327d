package run_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/engine/enginetest"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/run"
	"github.com/zdu-dev/zdu/steps/lb/lbtest"
	"github.com/zdu-dev/zdu/steps/lb/loopback"
)

const minHealthyPlan = `apiVersion: zdu/v1
name: minhealthy
phases:
  - id: roll
    targets: [n1]
    exitCode: 12
    steps:
      - {id: drain, type: lb-drain, with: {lb: web, polls: 1, interval: 50ms, minHealthyWait: %s}}
      - {id: enable, type: lb-enable, with: {lb: web, interval: 50ms}}
`

// TestMinHealthyWaitJournaled: with n2 failing HAProxy's health checks,
// n1's drain would leave fewer than minHealthy (50% of 3 servers: 2)
// serving. The run journals that the drain waits, naming n2, writes it to
// n1's log, and goes on once n2 is UP again; the journal still passes
// every check (the wait inside its attempt, the summary rebuilt equal).
// Without n2's return the drain refuses at the end of its wait and the
// phase fails with its exit code.
func TestMinHealthyWaitJournaled(t *testing.T) {
	lbtest.Need(t, loopback.HAProxyPath, "haproxy")
	for _, back := range []bool{true, false} {
		name := map[bool]string{true: "n2 comes back", false: "n2 stays down"}[back]
		t.Run(name, func(t *testing.T) {
			var bs []*loopback.Backend
			for _, n := range []string{"n1", "n2", "n3"} {
				b, err := loopback.NewBackend(n, "v1")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { b.Close() })
				bs = append(bs, b)
			}
			h := lbtest.MustHAProxy(t, loopback.HAProxyConfig{Servers: bs, Check: true})
			bs[1].SetHealthy(false)
			waitDown(t, h, "n2")
			inv := `apiVersion: zdu/v1
kind: Inventory
defaults: {transport: local}
nodes: [{name: n1}, {name: n2}, {name: n3}]
loadBalancers:
  web:
    driver: haproxy
    backend: ` + h.Backend + `
    minHealthy: 50%
    instances: [{name: h, socket: ` + h.Socket + `}]
`
			wait := "60s"
			if !back {
				wait = "2s"
			}
			prog := enginetest.Compile(t, strings.Replace(minHealthyPlan, "%s", wait, 1), inv)
			runDir := t.TempDir()
			done := make(chan *enginetest.Run, 1)
			go func() { done <- enginetest.Execute(t, prog, enginetest.Options{Dir: runDir}) }()
			waitForEvent(t, filepath.Join(runDir, "journal.jsonl"), journal.KindStep, journal.Waiting)
			if back {
				bs[1].SetHealthy(true)
			}
			r := <-done
			var waits []journal.Event
			for _, e := range r.Events {
				if e.State == journal.Waiting {
					waits = append(waits, e)
				}
			}
			if len(waits) == 0 {
				t.Fatal("no waiting event in the journal")
			}
			w := waits[0]
			msg, _ := w.Detail["message"].(string)
			if w.Kind != journal.KindStep || w.Node != "n1" || w.Step != "drain" || w.Attempt != 1 || w.Vertex != "roll/n1/drain" ||
				w.Detail["for"] != "minHealthy" || w.Detail["until"] == nil || !strings.Contains(msg, "not serving: n2 (DOWN)") {
				t.Errorf("waiting event = %+v, want n1's drain waiting for minHealthy naming n2 (DOWN)", w)
			}
			nodeLog, err := os.ReadFile(filepath.Join(runDir, "nodes", "n1.log"))
			d, _ := time.ParseDuration(wait)
			if err != nil || !strings.Contains(string(nodeLog), "waiting up to "+d.String()+" (minHealthyWait") {
				t.Errorf("n1's log does not say it waits (%v):\n%s", err, nodeLog)
			}
			if back {
				if r.Result.ExitCode != 0 {
					t.Fatalf("exit %d: %v\n%s", r.Result.ExitCode, r.Result.Err, r.Table)
				}
				return
			}
			if r.Result.ExitCode != 12 || !strings.Contains(r.Result.Err.Error(), "refusing to drain") {
				t.Fatalf("exit %d (%v), want the phase's 12 for a refused drain\n%s", r.Result.ExitCode, r.Result.Err, r.Table)
			}
			if st := serverStatus(t, h, "n1"); st != "UP" {
				t.Errorf("n1 is %q after the refused drain, want UP", st)
			}
		})
	}
}

// A resumed run's replay says what a step in flight was waiting for when
// its process died.
func TestReplayInFlightWaiting(t *testing.T) {
	prog := enginetest.Compile(t, strings.Replace(minHealthyPlan, "%s", "1m", 1), `apiVersion: zdu/v1
kind: Inventory
defaults: {transport: local}
nodes: [{name: n1}, {name: n2}]
loadBalancers:
  web: {driver: haproxy, backend: app, minHealthy: 1, instances: [{name: h, socket: /nonexistent}]}
`)
	v := "roll/n1/drain"
	at := time.Now()
	events := []journal.Event{
		{Seq: 1, Kind: journal.KindRun, State: journal.Started, Time: at},
		{Seq: 2, Kind: journal.KindPhase, State: journal.Started, Phase: "roll"},
		{Seq: 3, Kind: journal.KindNode, State: journal.Started, Phase: "roll", Node: "n1"},
		{Seq: 4, Kind: journal.KindStep, State: journal.Started, Phase: "roll", Node: "n1", Step: "drain", Vertex: v, Attempt: 1, Time: at},
		{Seq: 5, Kind: journal.KindStep, State: journal.Waiting, Phase: "roll", Node: "n1", Step: "drain", Vertex: v, Attempt: 1,
			Detail: map[string]any{"for": "minHealthy", "message": "waiting up to 1m0s ...: not serving: n2 (DOWN)"}},
	}
	rp, err := run.ReplayJournal(prog, events)
	if err != nil {
		t.Fatal(err)
	}
	if len(rp.InFlight) != 1 || rp.InFlight[0].Vertex.ID() != v || !strings.Contains(rp.InFlight[0].Waiting, "n2 (DOWN)") {
		t.Errorf("in flight = %+v, want %s waiting for n2", rp.InFlight, v)
	}
	// A later attempt that has not said it waits is not waiting.
	events = append(events,
		journal.Event{Seq: 6, Kind: journal.KindStep, State: journal.Retrying, Phase: "roll", Node: "n1", Step: "drain", Vertex: v, Attempt: 1},
		journal.Event{Seq: 7, Kind: journal.KindStep, State: journal.Started, Phase: "roll", Node: "n1", Step: "drain", Vertex: v, Attempt: 2})
	if rp, err = run.ReplayJournal(prog, events); err != nil {
		t.Fatal(err)
	}
	if len(rp.InFlight) != 1 || rp.InFlight[0].Waiting != "" {
		t.Errorf("in flight = %+v, want attempt 2 not waiting", rp.InFlight)
	}
}

func waitDown(t *testing.T, h *loopback.HAProxy, server string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := lbtest.WaitUntil(ctx, func() bool { return serverStatus(t, h, server) == "DOWN" }); err != nil {
		t.Fatalf("%s never DOWN in HAProxy: %v", server, err)
	}
}

func serverStatus(t *testing.T, h *loopback.HAProxy, server string) string {
	t.Helper()
	st, err := h.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r, err := st.Server("h", h.Backend, server)
	if err != nil {
		t.Fatal(err)
	}
	return r.Status()
}
