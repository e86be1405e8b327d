package load_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/engine/load"
)

const lintInventory = `apiVersion: zdu/v1
kind: Inventory
defaults: {transport: local}
nodes:
  - {name: web-1, groups: [web]}
  - {name: web-2, groups: [web]}
  - {name: db-1, groups: [db]}
loadBalancers:
  front:
    driver: haproxy
    backend: app
    servers: {web-1: w1, web-2: w2}
    instances: [{socket: /run/haproxy.sock}]
  other:
    driver: haproxy
    backend: other
    instances: [{socket: /run/haproxy.sock}]
`

func bindStrings(t *testing.T, plan, inv string) *load.Binding {
	t.Helper()
	p, probs := load.ParsePlan("plan.yaml", []byte(plan))
	if len(probs) > 0 {
		t.Fatalf("plan: %v", probs)
	}
	i, probs := load.ParseInventory("inv.yaml", []byte(inv))
	if len(probs) > 0 {
		t.Fatalf("inventory: %v", probs)
	}
	b, probs := load.Bind(p, i, load.BindOptions{})
	if len(probs) > 0 {
		t.Fatalf("bind: %v", probs)
	}
	return b
}

// The availability lint: a step that stops or restarts a service on a node
// behind a load balancer, with no drain of it before, is warned about at the
// step's line and column, naming the load balancer and the missing drain.
func TestLintAvailability(t *testing.T) {
	const head = "apiVersion: zdu/v1\nname: lint\nphases:\n"
	tests := []struct {
		name, phases string
		want         []string // "LINE:COL PATH: words" (words all in the message), in order
	}{
		{name: "restart without a drain", phases: `  - id: roll
    targets: web
    steps:
      - id: restart
        type: ssh-exec
        with: {command: systemctl restart app}
`, want: []string{`7:9 phases[0].steps[0]: step "restart" (its command runs ` + "`systemctl restart`" + `) stops or restarts a service on nodes web-1, web-2, which are behind load balancer front, but no lb-drain of front comes before it in phase roll`}},
		{name: "drained first", phases: `  - id: roll
    targets: web
    steps:
      - {id: drain, type: lb-drain, with: {lb: front}}
      - {id: restart, type: ssh-exec, with: {command: systemctl restart app}}
      - {id: enable, type: lb-enable, with: {lb: front}}
`},
		{name: "drain after the restart", phases: `  - id: roll
    targets: [web-1]
    steps:
      - {id: restart, type: ssh-exec, with: {command: "sudo service app restart"}}
      - {id: drain, type: lb-drain, with: {lb: front}}
      - {id: enable, type: lb-enable, with: {lb: front}}
`, want: []string{`7:9 phases[0].steps[0]: on node web-1, which is behind load balancer front`, `(its drain, step "drain", comes after it)`}},
		{name: "needs put the drain after it", phases: `  - id: roll
    targets: [web-1]
    steps:
      - {id: drain, type: lb-drain, with: {lb: front}, needs: [restart]}
      - {id: restart, type: ssh-exec, with: {command: systemctl stop app}, needs: []}
`, want: []string{`8:9 phases[0].steps[1]: step "restart"`, `(its drain, step "drain", comes after it)`}},
		{name: "restart after the enable", phases: `  - id: roll
    targets: [web-2]
    steps:
      - {id: drain, type: lb-drain, with: {lb: front}}
      - {id: enable, type: lb-enable, with: {lb: front}}
      - {id: restart, type: ssh-exec, with: {command: systemctl restart app}}
`, want: []string{`9:9 phases[0].steps[2]: `, `(step "enable" put it back in front before it)`}},
		{name: "drained in an earlier phase, put back in a later one", phases: `  - id: out
    targets: web
    steps: [{id: drain, type: lb-drain, with: {lb: front}}]
  - id: upgrade
    targets: web
    steps: [{id: restart, type: ssh-exec, with: {command: systemctl restart app}}]
  - id: in
    targets: web
    steps: [{id: enable, type: lb-enable, with: {lb: front}}]
`},
		{name: "a node behind no load balancer", phases: `  - id: roll
    targets: db
    steps: [{id: restart, type: ssh-exec, with: {command: systemctl restart postgresql}}]
`},
		{name: "behind a load balancer by the plan's drains", phases: `  - id: first
    targets: db
    steps: [{id: restart, type: ssh-exec, with: {command: systemctl restart app}}]
  - id: second
    targets: db
    steps:
      - {id: drain, type: lb-drain, with: {lb: other}}
      - {id: enable, type: lb-enable, with: {lb: other}}
`, want: []string{`6:13 phases[0].steps[0]: on node db-1, which is behind load balancer other, but no lb-drain of other comes before it in phase first`}},
		{name: "drained from the wrong load balancer", phases: `  - id: roll
    targets: [web-1]
    steps:
      - {id: drain, type: lb-drain, with: {lb: other}}
      - {id: restart, type: ssh-exec, with: {command: systemctl restart app}}
      - {id: enable, type: lb-enable, with: {lb: other}}
`, want: []string{`8:9 phases[0].steps[1]: behind load balancer front, but no lb-drain of front`}},
		{name: "disrupts: false overrides the heuristic", phases: `  - id: roll
    targets: web
    steps:
      - {id: restart, type: ssh-exec, disrupts: false, with: {command: systemctl restart log-shipper}}
`},
		{name: "disrupts: true where the heuristic cannot see", phases: `  - id: roll
    targets: [web-2]
    steps:
      - {id: stop, type: ssh-exec, disrupts: true, with: {command: /opt/app/bin/appctl -k}}
      - {id: remote, type: local-exec, disrupts: true, with: {command: "ssh web-2 appctl -k"}}
      - {id: local, type: local-exec, with: {command: systemctl restart app}}
`, want: []string{`7:9 phases[0].steps[0]: step "stop" (the plan says disrupts: true)`, `8:9 phases[0].steps[1]: step "remote" (the plan says disrupts: true)`}},
		{name: "a when does not hide either", phases: `  - id: roll
    targets: [web-1]
    steps:
      - {id: drain, type: lb-drain, when: "node.name == 'nope'", with: {lb: front}}
      - {id: restart, type: ssh-exec, with: {command: systemctl restart app}}
      - {id: enable, type: lb-enable, with: {lb: front}}
      - {id: again, type: ssh-exec, when: "false", with: {command: systemctl restart app}}
`, want: []string{`10:9 phases[0].steps[3]: step "again"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ws := load.Lint(bindStrings(t, head+tc.phases, lintInventory))
			got := make([]string, len(ws))
			for i, w := range ws {
				got[i] = w.String()
			}
			// Each want is "LINE:COL PATH: words..." for one warning; extra
			// wants with no position add words to the previous one.
			var expect [][]string
			for _, w := range tc.want {
				if w[0] >= '0' && w[0] <= '9' {
					pos, rest, _ := strings.Cut(w, " ")
					path, words, _ := strings.Cut(rest, ": ")
					expect = append(expect, []string{"plan.yaml:" + pos + ": " + path + ": ", words})
				} else {
					expect[len(expect)-1] = append(expect[len(expect)-1], w)
				}
			}
			if len(got) != len(expect) {
				t.Fatalf("got %d warning(s), want %d:\n  %s", len(got), len(expect), strings.Join(got, "\n  "))
			}
			for i, e := range expect {
				if !strings.HasPrefix(got[i], e[0]) {
					t.Errorf("warning %d = %s\nwant it at %s", i, got[i], e[0])
				}
				for _, words := range e[1:] {
					if !strings.Contains(got[i], words) {
						t.Errorf("warning %d = %s\nwant it to say %q", i, got[i], words)
					}
				}
			}
		})
	}
}

// The shipped plans drain before they disrupt: no warning.
func TestLintShippedPlans(t *testing.T) {
	for _, name := range []string{"axway-7.7", "nova-api"} {
		plan := filepath.Join("..", "..", "plans", name+".yaml")
		inv := filepath.Join("..", "..", "plans", name+".inventory.yaml")
		if ws := load.Lint(mustBind(t, plan, inv, nil)); len(ws) != 0 {
			t.Errorf("%s: %v", name, ws)
		}
	}
}
