package run_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/zdu-dev/zdu/engine/enginetest"
	"github.com/zdu-dev/zdu/engine/journal"
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
