package rundir

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/rs/zerolog"

	"github.com/zdu-dev/zdu/engine/journal"
)

// A step that waits shows on the console as a warning saying what for.
func TestLogSinkWaiting(t *testing.T) {
	var b bytes.Buffer
	s := NewLogSink(&b, false, false, zerolog.InfoLevel)
	s.Event(journal.Event{Run: "r1", Kind: journal.KindStep, State: journal.Waiting, Phase: "roll", Node: "web-1", Step: "drain",
		Detail: map[string]any{"for": "minHealthy", "message": "waiting up to 2m0s (minHealthyWait ...): not serving: web-2 (DOWN)"}})
	var line map[string]any
	if err := json.Unmarshal(b.Bytes(), &line); err != nil {
		t.Fatalf("%v: %q", err, b.String())
	}
	if line["level"] != "warn" || line["message"] != "step waiting" || line["node"] != "web-1" || line["step"] != "drain" ||
		line["waiting"] != "waiting up to 2m0s (minHealthyWait ...): not serving: web-2 (DOWN)" {
		t.Errorf("logged %s", b.String())
	}
}
