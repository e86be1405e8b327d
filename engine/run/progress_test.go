package run_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/engine/enginetest"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/probe"
	"github.com/zdu-dev/zdu/engine/run"
)

// TestWaitPollsAreJournaled: a wait's looks are journaled as poll events
// between its attempt's start and end (CheckJournal checks the place),
// the first and the one that passed always, with the count and the answer.
func TestWaitPollsAreJournaled(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 3 {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	}))
	defer srv.Close()
	plan := `apiVersion: zdu/v1
name: polls
phases:
  - id: p
    targets: all
    steps:
      - id: health
        type: wait-http
        with: {url: "` + srv.URL + `", interval: 20ms}
`
	r := enginetest.Execute(t, enginetest.Compile(t, plan, inventory(1)), enginetest.Options{})
	if r.Result.ExitCode != 0 {
		t.Fatalf("exit %d: %v", r.Result.ExitCode, r.Result.Err)
	}
	var polls []journal.Event
	for _, e := range r.Events {
		if e.Kind == journal.KindPoll {
			polls = append(polls, e)
		}
	}
	if len(polls) < 2 {
		t.Fatalf("%d poll events, want the first and the last at least: %+v", len(polls), polls)
	}
	first, last := polls[0], polls[len(polls)-1]
	for _, e := range polls {
		if e.State != journal.Progress || e.Node != "n1" || e.Step != "health" || e.Phase != "p" || e.Attempt != 1 || e.Vertex != "p/n1/health" {
			t.Errorf("poll event %+v: want state progress naming p/n1/health, attempt 1", e)
		}
	}
	seen, _ := first.Detail["seen"].(string)
	if first.Detail["polls"] != float64(1) || first.Detail["ok"] != false || !strings.Contains(seen, "503") || first.Detail["what"] == nil {
		t.Errorf("first poll %v: want poll 1, not ok, status 503, and what is awaited", first.Detail)
	}
	if last.Detail["polls"] != float64(4) || last.Detail["ok"] != true {
		t.Errorf("last poll %v: want poll 4, ok", last.Detail)
	}
}

// TestProbeIntervalsAreJournaled: while the run goes on, each of the
// probe's completed seconds is journaled as a traffic event, its totals
// adding up the seconds before it.
func TestProbeIntervalsAreJournaled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }))
	defer srv.Close()
	dir := t.TempDir()
	runDir := filepath.Join(dir, "run")
	plan := `apiVersion: zdu/v1
name: traffic
params:
  dir: {type: string, required: true}
phases:
  - id: p
    targets: all
    steps:
      - id: hold
        type: ssh-exec
        with: {command: "while [ ! -e ${{ params.dir }}/go ]; do sleep 0.05; done"}
`
	prog := enginetest.Compile(t, plan, inventory(1), "dir="+dir)
	pool := run.NewPool(prog.Binding.Inv, nil)
	defer pool.Close()
	obs, err := run.StartProbe(context.Background(), prog, pool, run.ProbeOptions{Config: probe.Config{URL: srv.URL, Rate: 50}})
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Stop()
	traffic := func() []journal.Event {
		f, err := os.Open(filepath.Join(runDir, "journal.jsonl"))
		if err != nil {
			return nil
		}
		defer f.Close()
		events, _ := journal.Read(f)
		var out []journal.Event
		for _, e := range events {
			if e.Kind == journal.KindTraffic {
				out = append(out, e)
			}
		}
		return out
	}
	r := enginetest.Execute(t, prog, enginetest.Options{Dir: runDir,
		Before: func(r *run.Runner) { r.Observers = append(r.Observers, obs) },
		Start: func(*run.Runner) {
			deadline := time.Now().Add(time.Minute)
			for len(traffic()) < 2 && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			os.WriteFile(filepath.Join(dir, "go"), nil, 0o600)
		}})
	var seen []journal.Event
	for _, e := range r.Events {
		if e.Kind == journal.KindTraffic {
			seen = append(seen, e)
		}
	}
	if len(seen) < 2 {
		t.Fatalf("%d traffic events, want 2 at least", len(seen))
	}
	var sum float64
	for _, e := range seen {
		req, _ := e.Detail["requests"].(float64)
		sum += req
		if e.State != journal.Progress || e.Detail["total_requests"] != sum || e.Detail["start"] == nil || e.Detail["rps"] != req {
			t.Errorf("traffic event %v: want state progress, a start, rps = requests, total_requests = %v", e.Detail, sum)
		}
	}
	if sum == 0 {
		t.Error("the journaled seconds hold no request")
	}
}

// TestSecretStepPollsHideWhatTheySaw: a step whose output is secret is
// only known to be secret at its end, so its polls journal how far it got,
// not what it saw.
func TestSecretStepPollsHideWhatTheySaw(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			http.Error(w, "token-in-the-answer", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	}))
	defer srv.Close()
	plan := `apiVersion: zdu/v1
name: secretpolls
phases:
  - id: p
    targets: all
    steps:
      - id: health
        type: wait-http
        secret: true
        with: {url: "` + srv.URL + `", interval: 20ms}
`
	r := enginetest.Execute(t, enginetest.Compile(t, plan, inventory(1)), enginetest.Options{})
	polls := 0
	for _, e := range r.Events {
		if e.Kind != journal.KindPoll {
			continue
		}
		polls++
		if _, ok := e.Detail["seen"]; ok || e.Detail["polls"] == nil {
			t.Errorf("a secret step's poll journaled %v: want its count, not what it saw", e.Detail)
		}
	}
	if polls == 0 {
		t.Error("no poll journaled")
	}
}
