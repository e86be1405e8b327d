package load_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/steps/lb"
	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/steptest"
)

// marker is a load balancer driver of this test's own, registered the way a
// driver package registers itself: it brings its inventory keys (dir on the
// load balancer, fail on an instance), decodes them, and acts on one
// instance at a time. Its "load balancer" is a directory: DIR/INSTANCE.SERVER
// exists while the server is drained from that instance. Nothing else in
// zdu knows it; the inventory loader, the schema and lb-drain / lb-enable
// must take it as they take the built-in drivers.
func init() {
	lb.Register(lb.Definition{
		Name:    "marker",
		Summary: "test: a directory of marker files",
		Schema: []byte(`{"required": ["dir"], "properties": {
  "dir": {"type": "string", "minLength": 1, "description": "Where the markers are."}}}`),
		InstanceSchema: []byte(`{"properties": {
  "fail": {"enum": ["drain", "enable"], "description": "Make this operation fail on this instance."}}}`),
		Decode: func(l lb.Fields, ins []lb.Fields) (any, []any) {
			dir := l.String("dir")
			if !filepath.IsAbs(dir) {
				l.Errorf("dir", "must be an absolute path, not %q", dir)
			}
			fails := make([]any, len(ins))
			for i, f := range ins {
				fails[i] = f.String("fail")
			}
			return dir, fails
		},
		Driver: marker{},
	})
}

type marker struct{}

type markerInstance struct {
	in   step.LBInstance
	file string
}

var (
	_ lb.Driver   = marker{}
	_ lb.Instance = (*markerInstance)(nil)
)

func (marker) Open(rc step.Context, t lb.Target) ([]lb.Instance, error) {
	var out []lb.Instance
	for _, in := range t.LB.Instances {
		out = append(out, &markerInstance{in, filepath.Join(t.LB.Config.(string), in.Name+"."+t.Server)})
	}
	return out, nil
}

func (marker) WaitIdle(ctx context.Context, rc step.Context, t lb.Target, ins []lb.Instance, o lb.DrainOptions) (map[string]any, error) {
	return map[string]any{"idle": true}, nil
}

func (marker) ExplainDrain(rc step.Context, t lb.Target, o lb.DrainOptions) ([]string, error) {
	return []string{"create a marker per instance in " + t.LB.Config.(string)}, nil
}

func (marker) ExplainEnable(rc step.Context, t lb.Target, o lb.EnableOptions) ([]string, error) {
	return []string{"remove the markers in " + t.LB.Config.(string)}, nil
}

func (i *markerInstance) Name() string { return i.in.Name }

func (i *markerInstance) CheckDrain(ctx context.Context, rc step.Context) (map[string]any, error) {
	_, err := os.Stat(filepath.Dir(i.file))
	return map[string]any{"file": i.file}, err
}

func (i *markerInstance) Drain(ctx context.Context, rc step.Context, o lb.DrainOptions) error {
	if i.in.Config == "drain" {
		return errors.New(i.in.Name + " refuses to drain")
	}
	return os.WriteFile(i.file, nil, 0o644)
}

func (i *markerInstance) Enable(ctx context.Context, rc step.Context, o lb.EnableOptions) (map[string]any, error) {
	if i.in.Config == "enable" {
		return nil, errors.New(i.in.Name + " refuses to enable")
	}
	return nil, os.Remove(i.file)
}

func markerInventory(dir, instances string) []byte {
	return []byte(fmt.Sprintf(`apiVersion: zdu/v1
nodes: [{name: web-1}]
loadBalancers:
  files:
    driver: marker
    dir: %s
    servers: {web-1: s1}
    instances:
%s`, dir, instances))
}

func markers(t *testing.T, dir string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	sort.Strings(m)
	return strings.Join(m, " ")
}

// The driver's keys are in the inventory language: the schema knows them,
// and a wrong one is a problem at its line and column.
func TestADriverOfItsOwnInTheInventory(t *testing.T) {
	inv, probs := load.ParseInventory("inv.yaml", markerInventory("/srv/lb", "      - {name: a}\n      - {name: b, fail: drain}\n"))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	l := inv.LBs["files"]
	if l.Config != "/srv/lb" || l.Instances[0].Config != "" || l.Instances[1].Config != "drain" {
		t.Errorf("configs: %#v, instances %#v", l.Config, l.Instances)
	}
	s, err := load.InventorySchema()
	if err != nil || !strings.Contains(string(s), `"lbInstance-marker"`) {
		t.Errorf("the inventory schema lacks the marker driver's keys (%v)", err)
	}
	tests := []struct {
		name, dir, instances string
		want                 [][]string
	}{
		{"a misspelt key of the driver", "/srv/lb", "      - {name: a, fial: drain}\n",
			[][]string{{"", "9", "19", `loadBalancers.files.instances[0].fial: unknown key "fial" (did you mean "fail"?)`}}},
		{"a value the driver's schema refuses", "/srv/lb", "      - {name: a, fail: always}\n",
			[][]string{{"", "9", "25", `loadBalancers.files.instances[0].fail: unknown value "always"; expected one of: drain, enable`}}},
		{"what only the driver's Decode can say", "srv/lb", "      - {name: a}\n",
			[][]string{{"", "6", "10", `loadBalancers.files.dir: must be an absolute path, not "srv/lb"`}}},
		{"a key of another driver", "/srv/lb", "      - {name: a, socket: /s}\n",
			[][]string{{"", "9", "19", `loadBalancers.files.instances[0].socket: unknown key "socket"; allowed keys: fail, name, via`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv, probs := load.ParseInventory("inv.yaml", markerInventory(tc.dir, tc.instances))
			if inv != nil {
				t.Fatal("a broken inventory loaded")
			}
			checkProblems(t, "inv.yaml", probs, tc.want)
		})
	}
}

// lb-drain and lb-enable run through the driver, and package lb puts the
// server back when one of its instances fails.
func TestADriverOfItsOwnDrainsAndEnables(t *testing.T) {
	run := func(t *testing.T, rc *steptest.Context, typ string) (step.Outcome, error) {
		t.Helper()
		act, err := steptest.Build(typ, map[string]any{"lb": "files"})
		if err != nil {
			t.Fatal(err)
		}
		if lines, err := act.Explain(rc); err != nil || !strings.Contains(strings.Join(lines, "\n"), "(marker driver, 2 instance(s))") {
			t.Errorf("%s explain = %q, %v", typ, lines, err)
		}
		return steptest.Run(act, rc, 10*time.Second)
	}
	rcFor := func(t *testing.T, dir, instances string) *steptest.Context {
		t.Helper()
		inv, probs := load.ParseInventory("inv.yaml", markerInventory(dir, instances))
		if len(probs) > 0 {
			t.Fatal(probs)
		}
		return &steptest.Context{NodeInfo: step.Node{Name: "web-1"}, LBs: inv.LBs}
	}

	dir := t.TempDir()
	rc := rcFor(t, dir, "      - {name: a}\n      - {name: b}\n")
	out, err := run(t, rc, "lb-drain")
	if err != nil {
		t.Fatalf("drain: %v\n%s", err, rc.Logged())
	}
	if got := markers(t, dir); got != "a.s1 b.s1" {
		t.Errorf("markers after the drain = %q, want a.s1 b.s1", got)
	}
	if out.Undo == nil || out.Undo.Key != "lb/files/web-1" || out.Data["idle"] != true {
		t.Errorf("drain outcome: undo %+v, data %v", out.Undo, out.Data)
	}
	out, err = run(t, rc, "lb-enable")
	if err != nil || len(out.Settles) != 1 || out.Settles[0] != "lb/files/web-1" {
		t.Fatalf("enable: %v, settles %v", err, out.Settles)
	}
	if got := markers(t, dir); got != "" {
		t.Errorf("markers after the enable = %q, want none", got)
	}

	// b fails: a, already drained, is put back before the step fails.
	rc = rcFor(t, dir, "      - {name: a}\n      - {name: b, fail: drain}\n")
	out, err = run(t, rc, "lb-drain")
	if err == nil || !strings.Contains(err.Error(), "b refuses to drain (put back on 1 instance(s))") || out.Undo != nil {
		t.Fatalf("drain with a failing instance: %v, undo %+v", err, out.Undo)
	}
	if got := markers(t, dir); got != "" {
		t.Errorf("markers after the failed drain = %q, want none: a must be put back", got)
	}
}
