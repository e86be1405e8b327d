package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/engine/run"
)

// TestDescribeResumeWaiting: resume names what a step in flight was
// waiting for when its run stopped.
func TestDescribeResumeWaiting(t *testing.T) {
	v := &compile.StepVertex{Phase: &compile.Phase{Phase: &load.Phase{ID: "roll"}}, Node: &load.Node{Name: "web-1"}, Step: &load.Step{ID: "drain"}}
	prior := &run.Replay{InFlight: []run.InFlight{{Vertex: v, Waiting: "waiting up to 2m0s (minHealthyWait ...): not serving: web-2 (DOWN)"}}}
	var b bytes.Buffer
	describeResume(&b, prior)
	want := "zdu resume: roll/web-1/drain was waiting when the run stopped: waiting up to 2m0s (minHealthyWait ...): not serving: web-2 (DOWN)\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("describeResume wrote:\n%s\nwant the line\n%s", b.String(), want)
	}
}
