package load_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/schema"
)

// importDir holds the imported plans; a test's plan is read as if it were
// there (its text need not be on disk).
var importDir = filepath.Join("testdata", "imports")

func parseImport(t *testing.T, plan string) (*load.Plan, []schema.Problem) {
	t.Helper()
	return load.ParsePlan(filepath.Join(importDir, "plan.yaml"), []byte(plan))
}

// TestImportWholePlan: a whole import brings the imported plan's params,
// phases, rollbacks and errorBudget; the overrides replace a phase's keys,
// a step by id, add steps before and after others by id, and give params
// new defaults; the plan's own params and phases follow. Imported phases
// and steps say where they are written.
func TestImportWholePlan(t *testing.T) {
	p, probs := parseImport(t, `apiVersion: zdu/v1
name: product
import:
  plan: base.yaml
  params: {service: shop, replicas: 3}
  phases:
    roll:
      targets: web
      strategy: {batch: 2}
      replace:
        - {id: upgrade, type: ssh-exec, with: {command: "dnf -y upgrade ${{ params.service }}"}}
      before:
        drain: [{id: announce, type: ssh-exec, with: {command: "echo ${{ params.extra }}"}}]
      after:
        restart: [{id: migrate, type: ssh-exec, needs: [restart.restart], with: {command: "migrate"}}]
params:
  extra: {type: string, default: hello}
phases:
  - id: post
    targets: web
    steps:
      - {id: done, type: ssh-exec, with: {command: "true"}}
`)
	if len(probs) > 0 {
		t.Fatalf("problems: %v", probs)
	}
	var ids []string
	for _, ph := range p.Phases {
		var steps []string
		for _, st := range ph.Order {
			steps = append(steps, st.ID)
		}
		ids = append(ids, ph.ID+"["+strings.Join(ph.Targets, ",")+"]:"+strings.Join(steps, ","))
	}
	// migrate, added, needs a step the imported use expands to.
	want := "pre[app]:check roll[web]:announce,drain,arm,upgrade,restart.restart,restart.active,migrate post[web]:done"
	if got := strings.Join(ids, " "); got != want {
		t.Errorf("phases:\n got %s\nwant %s", got, want)
	}
	roll := p.Phases[1]
	if roll.Strategy.Kind != "batch" || roll.Strategy.Size.N != 2 {
		t.Errorf("roll's strategy: %+v", roll.Strategy)
	}
	base := filepath.Join(importDir, "base.yaml")
	if roll.Origin == nil || roll.Origin.File != base || roll.Origin.Pos.Line != 12 {
		t.Errorf("roll's origin: %v", roll.Origin)
	}
	if p.Phases[2].Origin != nil {
		t.Errorf("the plan's own phase has an origin: %v", p.Phases[2].Origin)
	}
	for _, st := range roll.Order {
		var want string
		switch st.ID {
		case "drain", "arm":
			want = base
		case "restart.restart", "restart.active":
			want = filepath.Join(importDir, "restart.yaml")
		}
		got := ""
		if st.Origin != nil {
			got = st.Origin.File
		}
		if got != want {
			t.Errorf("step %s: origin %q, want %q", st.ID, got, want)
		}
	}
	params := map[string]load.Param{}
	var names []string
	for _, pr := range p.Params {
		params[pr.Name] = pr
		names = append(names, pr.Name)
	}
	if got := strings.Join(names, ","); got != "service,replicas,token,extra" {
		t.Errorf("params %s", got)
	}
	if s := params["service"]; s.Required || s.Default != "shop" {
		t.Errorf("service: a default given by the import makes it optional: %+v", s)
	}
	if r := params["replicas"]; r.Default != 3 {
		t.Errorf("replicas' default %v (%T)", r.Default, r.Default)
	}
	if len(p.Rollbacks["undo"]) != 1 || p.ErrorBudget.MaxFailed == nil {
		t.Errorf("rollbacks %v, errorBudget %+v", p.RollbackOrder, p.ErrorBudget)
	}
	var files []string
	for _, f := range p.Files {
		files = append(files, filepath.Base(f.Path))
	}
	if got := strings.Join(files, ","); got != "base.yaml,restart.yaml" {
		t.Errorf("files loaded: %s", got)
	}
}

// TestImportPhases: a phase import brings one phase (renamed with id:, so
// that one phase serves two groups) and its plan's params and rollbacks,
// once however often it is imported; a plan imported through another
// keeps the inner overrides, the outer ones applied after.
func TestImportPhases(t *testing.T) {
	p, probs := parseImport(t, `apiVersion: zdu/v1
name: product
phases:
  - {id: first, targets: web, steps: [{id: a, type: ssh-exec, with: {command: "true"}}]}
  - import: base.yaml
    phase: roll
    id: roll_web
    targets: web
    params: {service: web}
  - import: base.yaml
    phase: roll
    id: roll_api
    targets: api
    strategy: parallel
`)
	if len(probs) > 0 {
		t.Fatalf("problems: %v", probs)
	}
	var got []string
	for _, ph := range p.Phases {
		got = append(got, ph.ID+"/"+strings.Join(ph.Targets, ",")+"/"+string(ph.Strategy.Kind))
	}
	if s := strings.Join(got, " "); s != "first/web/serial roll_web/web/serial roll_api/api/parallel" {
		t.Errorf("phases %s", s)
	}
	if len(p.Params) != 3 || len(p.RollbackOrder) != 1 {
		t.Errorf("params %v rollbacks %v: brought once", p.Params, p.RollbackOrder)
	}

	p, probs = parseImport(t, `apiVersion: zdu/v1
name: product
import:
  plan: mid.yaml
  phases:
    roll: {targets: web}
`)
	if len(probs) > 0 {
		t.Fatalf("problems: %v", probs)
	}
	roll := p.Phases[1]
	if roll.Strategy.Size.N != 2 || roll.Targets[0] != "web" || p.Params[0].Default != "mid" {
		t.Errorf("nested: strategy %+v targets %v service %v", roll.Strategy, roll.Targets, p.Params[0].Default)
	}
	if roll.Origin == nil || len(roll.Origin.Via) != 2 {
		t.Errorf("nested: roll's origin %+v", roll.Origin)
	}
}

// TestImportMistakes: each mistake in an import is reported at the place
// to edit, naming the other file's place too.
func TestImportMistakes(t *testing.T) {
	base := filepath.Join(importDir, "base.yaml")
	plan := filepath.Join(importDir, "plan.yaml")
	head := "apiVersion: zdu/v1\nname: product\n"
	for _, tt := range []struct {
		name, plan string
		want       []string // in one problem
	}{
		{"unknown file", head + "import: {plan: nope.yaml}\n",
			[]string{plan + ":3:16: ", `plan "nope.yaml" not found beside ` + plan}},
		{"not a regular file", head + "import: {plan: /dev/zero}\n",
			[]string{plan + ":3:16: ", "cannot read imported plan /dev/zero", "not a regular file"}},
		{"unknown phase file", head + "phases:\n  - {import: nope.yaml, phase: roll}\n",
			[]string{plan + ":4:14: ", `plan "nope.yaml" not found`}},
		{"cycle", head + "import: {plan: cyc-a.yaml}\n",
			[]string{filepath.Join(importDir, "cyc-b.yaml") + ":3:16: ", "plans import each other in a cycle: ", "cyc-a.yaml -> ", "cyc-b.yaml -> ", "; imported at " + filepath.Join(importDir, "cyc-a.yaml") + ":3:16 (cyc-b.yaml); imported at " + plan + ":3:16 (cyc-a.yaml)"}},
		{"itself", head + "import: {plan: self.yaml}\n",
			[]string{filepath.Join(importDir, "self.yaml") + ":3:16: ", "in a cycle: " + filepath.Join(importDir, "self.yaml") + " -> " + filepath.Join(importDir, "self.yaml"), "; imported at " + plan + ":3:16 (self.yaml)"}},
		{"a template", head + "import: {plan: restart.yaml}\n",
			[]string{plan + ":3:16: ", "is a template (kind: Template at " + filepath.Join(importDir, "restart.yaml") + ":2:7)"}},
		{"unknown override key", head + "import:\n  plan: base.yaml\n  phases:\n    roll: {strategi: parallel}\n",
			[]string{plan + ":6:12: ", `not "strategi" (did you mean "strategy"?)`, "(phase roll is at " + base + ":12:5)"}},
		{"unknown phase-import key", head + "phases:\n  - {import: base.yaml, phase: roll, tagets: web}\n",
			[]string{plan + ":4:38: ", `not "tagets" (did you mean "targets"?)`, "(phase roll is at " + base + ":12:5)"}},
		{"phase that does not exist", head + "import:\n  plan: base.yaml\n  phases:\n    rool: {targets: web}\n",
			[]string{plan + ":6:5: ", base + ` has no phase "rool" to override (did you mean "roll"?); its phases: pre, roll`}},
		{"imported phase that does not exist", head + "phases:\n  - {import: base.yaml, phase: rol}\n",
			[]string{plan + ":4:32: ", base + ` has no phase "rol" (did you mean "roll"?)`}},
		{"replaced step that does not exist", head + "import:\n  plan: base.yaml\n  phases:\n    roll:\n      replace: [{id: upgrad, type: ssh-exec, with: {command: x}}]\n",
			[]string{plan + ":7:22: ", "phase roll (at " + base + ":12:5) has no step \"upgrad\" (did you mean \"upgrade\"?); its steps: drain, arm, upgrade, restart"}},
		{"step added after one that does not exist", head + "import:\n  plan: base.yaml\n  phases:\n    roll:\n      after: {restat: [{id: m, type: ssh-exec, with: {command: x}}]}\n",
			[]string{plan + ":7:15: ", `has no step "restat" (did you mean "restart"?)`, base + ":12:5"}},
		{"added step id taken", head + "import:\n  plan: base.yaml\n  phases:\n    roll:\n      before: {drain: [{id: upgrade, type: ssh-exec, with: {command: x}}]}\n",
			[]string{plan + ":7:29: ", `phase roll already has a step "upgrade" (at ` + base + ":17:9)"}},
		{"rollback that does not exist", head + "import:\n  plan: base.yaml\n  rollbacks:\n    udno: [{id: x, type: ssh-exec, with: {command: x}}]\n",
			[]string{plan + ":6:5: ", base + ` has no rollback "udno" to replace (did you mean "undo"?)`}},
		{"param that does not exist", head + "import:\n  plan: base.yaml\n  params: {servic: x}\n",
			[]string{plan + ":5:12: ", base + ` declares no param "servic" (did you mean "service"?); its params: service, replicas, token`}},
		{"wrong type", head + "import:\n  plan: base.yaml\n  params: {replicas: many}\n",
			[]string{plan + ":5:22: ", `the default of param replicas must be an integer, not "many"`, "(declared at " + base + ":5:3 as int)"}},
		{"secret default", head + "import:\n  plan: base.yaml\n  params: {token: abc}\n",
			[]string{plan + ":5:19: ", "param token is secret (declared at " + base + ":6:3)"}},
		{"param declared again", head + "import: {plan: base.yaml}\nparams:\n  service: {type: string}\n",
			[]string{plan + ":5:3: ", "param service is declared at " + base + ":4:3 and at " + plan + ":5:3"}},
		{"phase id twice", head + "phases:\n  - {import: base.yaml, phase: roll}\n  - {import: base.yaml, phase: roll}\n",
			[]string{plan + ":5:14: ", `phase id "roll" is already used at ` + base + ":12:9", "give the phase imported from " + base + ":12:9 another id"}},
		{"shape in the imported plan", head + "import: {plan: broken.yaml}\n",
			[]string{filepath.Join(importDir, "broken.yaml") + ":6:5: ", "stategy", "; imported at " + plan + ":3:16 (broken.yaml)"}},
		{"undefined name in the imported plan", head + "import: {plan: badwhen.yaml}\n",
			[]string{filepath.Join(importDir, "badwhen.yaml") + ":6:18: phases[0].when: ", "nope", "; imported at " + plan + ":3:16 (badwhen.yaml)"}},
		{"bad override value", head + "import:\n  plan: base.yaml\n  phases:\n    roll: {strategy: {batch: 0}}\n",
			[]string{plan + ":6:30: import.phases.roll.strategy: ", "at least 1"}},
		{"needs cycle through an added step", head + "import:\n  plan: base.yaml\n  phases:\n    roll:\n      after: {drain: [{id: late, type: ssh-exec, needs: [restart.active], with: {command: x}}]}\n",
			[]string{plan + ":7:28: import.phases.roll.after.drain[0]: needs form a cycle: late -> arm -> upgrade -> restart.restart -> restart.active -> late"}},
		{"undefined name in an added step", head + "import:\n  plan: base.yaml\n  phases:\n    roll:\n      after: {drain: [{id: m, type: ssh-exec, with: {command: \"${{ params.nope }}\"}}]}\n",
			[]string{plan + ":7:75: import.phases.roll.after.drain[0].with.command: ", "nope"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, probs := parseImport(t, tt.plan)
			if len(probs) == 0 {
				t.Fatal("no problem reported")
			}
			for _, p := range probs {
				s := p.String()
				ok := true
				for _, w := range tt.want {
					ok = ok && strings.Contains(s, w)
				}
				if ok {
					return
				}
			}
			t.Errorf("no problem has all of %q:\n%v", tt.want, probs)
		})
	}
}

// TestImportBindProblems: problems found once the plan is bound to an
// inventory are placed too: a target of an imported phase in the imported
// file (noting the import), an override's in the plan, and the plan's own
// phase, which follows the imported ones, at its path in the plan.
func TestImportBindProblems(t *testing.T) {
	p, probs := parseImport(t, `apiVersion: zdu/v1
name: product
import:
  plan: base.yaml
  params: {service: x}
  phases:
    roll: {targets: nowhere}
phases:
  - id: own
    targets: elsewhere
    steps:
      - {id: a, type: ssh-exec, with: {command: "echo ${{ vars.missing }}"}}
`)
	if len(probs) > 0 {
		t.Fatalf("problems: %v", probs)
	}
	inv, probs := load.ParseInventory("inv.yaml", []byte("apiVersion: zdu/v1\nkind: Inventory\ndefaults: {transport: local}\nnodes: [{name: n1, groups: [web]}]\n"))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	_, probs = load.Bind(p, inv, load.BindOptions{})
	plan := filepath.Join(importDir, "plan.yaml")
	base := filepath.Join(importDir, "base.yaml")
	for _, want := range []string{
		base + ":9:14: phases[0].targets: ",
		"; imported at " + plan + ":4:9 (base.yaml)",
		plan + ":7:21: import.phases.roll.targets: ",
		plan + ":10:14: phases[0].targets: ",
	} {
		found := false
		for _, p := range probs {
			found = found || strings.Contains(p.String(), want)
		}
		if !found {
			t.Errorf("no problem says %q:\n%v", want, probs)
		}
	}
}
