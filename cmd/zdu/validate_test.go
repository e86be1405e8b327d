package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/schema"
)

// TestValidateWarnsMissingDrain: validate -i warns, at the step's line and
// column, about a restart on a node behind a load balancer that no drain
// precedes; the plan stays valid and the exit code 0, in text and JSON.
// Without -i nothing can be said (no inventory: no load balancers), and
// the plan that drains first gets no warning.
func TestValidateWarnsMissingDrain(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "inv.yaml")
	os.WriteFile(inv, []byte(`apiVersion: zdu/v1
kind: Inventory
nodes: [{name: web-1, groups: [web]}, {name: web-2, groups: [web]}]
loadBalancers:
  front:
    driver: haproxy
    backend: app
    instances: [{socket: /run/haproxy.sock}]
`), 0o600)
	write := func(name, steps string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("apiVersion: zdu/v1\nname: p\nphases:\n  - id: roll\n    targets: web\n    steps:\n"+steps), 0o600)
		return p
	}
	bad := write("bad.yaml", `      - {id: restart, type: ssh-exec, with: {command: "systemctl restart app"}}
      - {id: drain, type: lb-drain, with: {lb: front}}
      - {id: enable, type: lb-enable, with: {lb: front}}
`)
	good := write("good.yaml", `      - {id: drain, type: lb-drain, with: {lb: front}}
      - {id: restart, type: ssh-exec, with: {command: "systemctl restart app"}}
      - {id: enable, type: lb-enable, with: {lb: front}}
`)
	validate := func(args ...string) (string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		if code := dispatch(context.Background(), append([]string{"validate"}, args...), &out, &errb); code != exitOK {
			t.Fatalf("zdu validate %v: exit %d, want 0\n%s%s", args, code, out.String(), errb.String())
		}
		return out.String(), errb.String()
	}

	out, _ := validate(bad, "-i", inv)
	want := bad + `:7:9: phases[0].steps[0]: warning: step "restart" (its command runs ` + "`systemctl restart`" +
		`) stops or restarts a service on nodes web-1, web-2, which are behind load balancer front, but no lb-drain of front comes before it in phase roll (its drain, step "drain", comes after it)`
	if !strings.Contains(out, want) {
		t.Errorf("validate -i output:\n%s\nwant a line starting\n%s", out, want)
	}
	if !strings.Contains(out, "valid (plan \"p\"") || !strings.Contains(out, "; 1 warning(s)") {
		t.Errorf("validate -i output does not say valid with 1 warning:\n%s", out)
	}

	out, _ = validate(bad, "-i", inv, "--format", "json")
	var got struct {
		Valid    bool             `json:"valid"`
		Problems []schema.Problem `json:"problems"`
		Warnings []schema.Problem `json:"warnings"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !got.Valid || len(got.Problems) != 0 || len(got.Warnings) != 1 {
		t.Fatalf("json: %+v", got)
	}
	if w := got.Warnings[0]; w.File != bad || w.Line != 7 || w.Col != 9 || w.Path != "phases[0].steps[0]" ||
		!strings.Contains(w.Msg, "no lb-drain of front") || strings.HasPrefix(w.Msg, "warning") {
		t.Errorf("json warning %+v", w)
	}

	if out, _ := validate(good, "-i", inv); strings.Contains(out, "warning") {
		t.Errorf("the plan that drains first got a warning:\n%s", out)
	}
	if out, _ := validate(bad); strings.Contains(out, "warning") {
		t.Errorf("without -i there is no load balancer to warn about:\n%s", out)
	}
	out, _ = validate(good, "-i", inv, "--format", "json")
	if !strings.Contains(out, `"warnings": []`) {
		t.Errorf("json without warnings must say \"warnings\": []:\n%s", out)
	}
}
