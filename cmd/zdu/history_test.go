package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/engine/state"
)

// TestHistoryRecordOnly: a run whose directory is gone is still listed,
// from its record, with its probe figures unknown; --format json gives the
// same; show says why it cannot show it; a state directory that does not
// exist is bad input.
func TestHistoryRecordOnly(t *testing.T) {
	stateDir := filepath.Join(t.TempDir(), "state")
	st, err := state.Open(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	rec := state.NewRun("20260101T000000Z-p-abcdef", "p", filepath.Join(t.TempDir(), "gone"), []state.Node{{Name: "n1", Endpoint: "local:n1"}})
	held, err := st.Lock(rec, []state.Node{{Name: "n1", Endpoint: "local:n1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := held.Release("APPLY_FAILED", 73); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := dispatch(context.Background(), args, &out, &errb)
		return code, out.String(), errb.String()
	}
	code, out, errs := run("history", "--state", stateDir)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "RUN ") {
		t.Fatalf("exit %d:\n%s%s", code, out, errs)
	}
	f := strings.Fields(lines[1])
	if f[0] != rec.ID || f[1] != "p" || f[5] != "APPLY_FAILED" || f[6] != "(73)" || f[7] != "?" {
		t.Errorf("history line %q", lines[1])
	}
	code, out, _ = run("history", "--state", stateDir, "--format", "json")
	var runs []pastRun
	if err := json.Unmarshal([]byte(out), &runs); code != 0 || err != nil || len(runs) != 1 {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	if r := runs[0]; r.Outcome != "APPLY_FAILED" || *r.ExitCode != 73 || r.Problem == "" || r.ProbeFailed != nil || r.Ended == nil {
		t.Errorf("%+v", r)
	}
	if code, _, errs := run("show", rec.ID, "--state", stateDir); code != exitFatal || !strings.Contains(errs, "gone") {
		t.Errorf("show of a run whose directory is gone: exit %d: %s", code, errs)
	}
	if code, _, errs := run("show", "nope", "--state", stateDir); code != exitBadInput || !strings.Contains(errs, "neither a run directory nor a run") {
		t.Errorf("show nope: exit %d: %s", code, errs)
	}
	if code, _, errs := run("history", "--state", filepath.Join(t.TempDir(), "none")); code != exitBadInput || !strings.Contains(errs, "no state directory") {
		t.Errorf("history of no state directory: exit %d: %s", code, errs)
	}
	if code, _, errs := run("report", "nope", "--state", stateDir); code != exitBadInput || !strings.Contains(errs, "neither a run directory nor a run") {
		t.Errorf("report nope: exit %d: %s", code, errs)
	}
}
