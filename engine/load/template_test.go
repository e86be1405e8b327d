package load_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/engine/load"
)

const tplDir = "testdata/templates"

func tplPlan(steps string) string {
	return `apiVersion: zdu/v1
name: t
params:
  svc: {default: nginx}
phases:
  - id: p
    targets: all
    steps:
` + steps
}

func TestTemplateExpands(t *testing.T) {
	plan := tplPlan(`      - id: first
        type: ssh-exec
        with: {command: "true"}
      - id: web
        uses: lib/outer.yaml
        with: {service: "${{ params.svc }}"}
      - id: restart
        uses: lib/restart.yaml
        with: {service: db, timeout: 30s}
`)
	p, probs := load.ParsePlan(filepath.Join(tplDir, "plan.yaml"), []byte(plan))
	if len(probs) > 0 {
		t.Fatalf("problems: %v", probs)
	}
	var got []string
	for _, st := range p.Phases[0].Steps {
		s := st.ID
		if st.Origin != nil {
			s += " " + st.Origin.String()
		}
		got = append(got, s)
	}
	want := []string{
		"first",
		"web.pre testdata/templates/lib/outer.yaml:7",
		"web.inner.stop testdata/templates/lib/restart.yaml:9",
		"web.inner.ready testdata/templates/lib/restart.yaml:13",
		"web.post testdata/templates/lib/outer.yaml:13",
		"restart.stop testdata/templates/lib/restart.yaml:9",
		"restart.ready testdata/templates/lib/restart.yaml:13",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	steps := p.Phases[0].Steps
	if n := steps[4].Needs; len(n) != 1 || n[0] != "web.pre" {
		t.Errorf("web.post needs %v, want [web.pre]", n)
	}
	if steps[3].Retries.Count != 2 || steps[6].Retries.Count != 5 {
		t.Errorf("retries from an input and its default: %d, %d; want 2, 5", steps[3].Retries.Count, steps[6].Retries.Count)
	}
	// An optional input with no value leaves its key out; one given sets it.
	if steps[2].Timeout != 0 || steps[5].Timeout.String() != "30s" {
		t.Errorf("timeouts %v, %v: want none and 30s", steps[2].Timeout, steps[5].Timeout)
	}
	if len(steps[6].Origin.Chain) != 1 || steps[2].Origin.Chain[1].ID != "inner" {
		t.Errorf("chains: %+v, %+v", steps[6].Origin.Chain, steps[2].Origin.Chain)
	}
}

// Each template mistake is placed in both files: the problem's own place,
// and the other file's in the message.
func TestTemplateMistakes(t *testing.T) {
	plan := filepath.Join(tplDir, "plan.yaml")
	restart := filepath.Join(tplDir, "lib", "restart.yaml")
	bad := filepath.Join(tplDir, "lib", "bad.yaml")
	cases := []struct {
		name, steps string
		want        []string // "FILE:LINE:COL" then a part of the message, and the other file's place
	}{
		{"unknown input", `      - id: r
        uses: lib/restart.yaml
        with: {service: x, atempts: 3}
`, []string{plan + ":11:28", `unknown input "atempts"`, `did you mean "attempts"`, restart + ":5:3"}},
		{"missing required input", `      - id: r
        uses: lib/restart.yaml
        with: {attempts: 3}
`, []string{plan + ":9:9", `input "service" is required`, restart + ":5:3"}},
		{"wrong type", `      - id: r
        uses: lib/restart.yaml
        with: {service: x, attempts: many}
`, []string{plan + ":11:38", `attempts must be an integer, not "many"`, restart + ":6:3 as int"}},
		{"undefined input in the template", `      - id: b
        uses: lib/bad.yaml
        with: {service: x}
`, []string{bad + ":9:21", `unknown input "servce" (did you mean "service"?)`, "used at " + plan + ":9:9 (b)"}},
		{"undefined param in the template", `      - id: b
        uses: lib/bad-param.yaml
        with: {service: x}
`, []string{filepath.Join(tplDir, "lib", "bad-param.yaml") + ":9:41", `unknown param "nope"`, "used at " + plan + ":9:9 (b)"}},
		{"cycle", `      - id: c
        uses: lib/cyc1.yaml
`, []string{filepath.Join(tplDir, "lib", "cyc2.yaml") + ":6:11", "cycle: " + filepath.Join(tplDir, "lib", "cyc1.yaml") + " -> " + filepath.Join(tplDir, "lib", "cyc2.yaml") + " -> " + filepath.Join(tplDir, "lib", "cyc1.yaml"), "used at " + plan + ":9:9 (c)"}},
		{"not found", `      - id: r
        uses: lib/nope.yaml
`, []string{plan + ":10:15", `template "lib/nope.yaml" not found`}},
		{"not a regular file", `      - id: r
        uses: lib
`, []string{plan + ":10:15", "cannot read template " + filepath.Join(tplDir, "lib") + ":", "not a regular file"}},
		{"unknown input in a nested use", `      - id: n
        uses: lib/nested-bad.yaml
`, []string{filepath.Join(tplDir, "lib", "nested-bad.yaml") + ":7:24", `unknown input "retries"`, restart}},
		{"a use takes only id, uses and with", `      - id: r
        uses: lib/restart.yaml
        when: node.name == "a"
        with: {service: x}
`, []string{plan + ":11:9", "takes only id, uses and with, not when"}},
		{"a secret input given a literal", `      - id: s
        uses: lib/secret.yaml
        with: {token: hunter2}
`, []string{plan + ":11:23", "input token is secret", filepath.Join(tplDir, "lib", "secret.yaml") + ":5:3", "pass a secret param"}},
		{"a secret input with a default", `      - id: s
        uses: lib/secret-bad.yaml
`, []string{filepath.Join(tplDir, "lib", "secret-bad.yaml") + ":5:48", "a secret input takes no default"}},
		{"an input with env", `      - id: s
        uses: lib/secret-bad.yaml
`, []string{filepath.Join(tplDir, "lib", "secret-bad.yaml") + ":5:62", "env is for a plan's params"}},
		{"a template step of the wrong shape", `      - id: r
        uses: lib/restart.yaml
        with: {service: x, attempts: "${{ params.svc }}"}
`, []string{restart + ":15:14", "retries", "used at " + plan + ":9:9 (r)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, probs := load.ParsePlan(plan, []byte(tplPlan(tc.steps)))
			var all []string
			for _, p := range probs {
				all = append(all, p.String())
			}
			for _, p := range all {
				if !strings.HasPrefix(p, tc.want[0]+":") {
					continue
				}
				ok := true
				for _, w := range tc.want[1:] {
					ok = ok && strings.Contains(p, w)
				}
				if ok {
					return
				}
			}
			t.Errorf("no problem at %s saying %q; got:\n  %s", tc.want[0], tc.want[1:], strings.Join(all, "\n  "))
		})
	}
}

// A template not beside the plan is found in the library; beside it wins.
func TestTemplateLibrary(t *testing.T) {
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.yaml")
	steps := `      - id: r
        uses: lib/restart.yaml
        with: {service: x}
`
	if _, probs := load.ParsePlan(plan, []byte(tplPlan(steps))); len(probs) != 1 || !strings.Contains(probs[0].Msg, `template "lib/restart.yaml" not found beside `+plan) {
		t.Fatalf("without a library: %v", probs)
	}
	p, probs := load.ParsePlanWith(plan, []byte(tplPlan(steps)), load.ParseOptions{Library: []string{filepath.Join(dir, "none"), tplDir}})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if o := p.Phases[0].Steps[0].Origin; o == nil || o.File != filepath.Join(tplDir, "lib", "restart.yaml") {
		t.Fatalf("origin %v", o)
	}
}
