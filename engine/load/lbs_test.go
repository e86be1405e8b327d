package load_test

import (
	"reflect"
	"testing"

	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/steps/lb/command"
	"github.com/zdu-dev/zdu/steps/lb/haproxy"
	"github.com/zdu-dev/zdu/steps/lb/nginx"
)

const invHead = "apiVersion: zdu/v1\nnodes:\n  - name: n1\n  - name: lbh\nloadBalancers:\n  web:\n"

// Each driver's keys reach its config, however the YAML writes them.
func TestLoadBalancerConfigs(t *testing.T) {
	inv, probs := load.ParseInventory("inv.yaml", []byte(`apiVersion: zdu/v1
nodes: [{name: n1}, {name: lbh}]
loadBalancers:
  ha:
    driver: haproxy
    backend: app
    instances:
      - &first {name: lb1, via: lbh, socket: /run/haproxy.sock}
      - <<: *first
        name: lb2
      - {name: lb3, address: "127.0.0.1:9999"}
  ng:
    driver: nginx
    instances:
      - {upstream: /etc/nginx/up.conf, test: t, reload: r}
  cmd:
    driver: command
    commands: &cmds {disable: off, enable: on}
  cmd2:
    driver: command
    commands: *cmds
`))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	type inst struct {
		Name, Via string
		Config    any
	}
	instances := func(name string) []inst {
		var out []inst
		for _, in := range inv.LBs[name].Instances {
			out = append(out, inst{in.Name, in.Via, in.Config})
		}
		return out
	}
	if got, want := instances("ha"), []inst{
		{"lb1", "lbh", haproxy.Config{Socket: "/run/haproxy.sock"}},
		{"lb2", "lbh", haproxy.Config{Socket: "/run/haproxy.sock"}},
		{"lb3", "", haproxy.Config{Address: "127.0.0.1:9999"}},
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("haproxy instances = %+v, want %+v", got, want)
	}
	if got, want := instances("ng"), []inst{{"ng-1", "", nginx.Config{Upstream: "/etc/nginx/up.conf", Test: "t", Reload: "r"}}}; !reflect.DeepEqual(got, want) {
		t.Errorf("nginx instances = %+v, want %+v", got, want)
	}
	want := command.Config{Commands: map[string]string{"disable": "off", "enable": "on"}}
	for _, name := range []string{"cmd", "cmd2"} {
		if got := inv.LBs[name].Config; !reflect.DeepEqual(got, want) {
			t.Errorf("%s config = %+v, want %+v", name, got, want)
		}
	}
}

// Every problem with a load balancer's keys names its line and column:
// the schema's for the shape, the driver's for what a schema cannot say.
func TestLoadBalancerProblems(t *testing.T) {
	tests := []struct {
		name, lb string
		want     [][]string
	}{
		{"haproxy: both socket and address", "    driver: haproxy\n    instances:\n      - {name: a, socket: /s, address: \"h:1\"}\n",
			[][]string{{"", "9", "9", "loadBalancers.web.instances[0]: an haproxy instance needs exactly one of socket or address"}}},
		{"haproxy: neither", "    driver: haproxy\n    instances:\n      - name: a\n        via: lbh\n",
			[][]string{{"", "9", "9", "loadBalancers.web.instances[0]: an haproxy instance needs exactly one of socket or address"}}},
		{"haproxy: no instances", "    driver: haproxy\n    backend: app\n",
			[][]string{{"", "7", "5", "loadBalancers.web.instances: a haproxy load balancer needs at least one instance"}}},
		{"haproxy: an empty list of instances", "    driver: haproxy\n    instances: []\n",
			[][]string{{"", "8", "16", "loadBalancers.web.instances: must list at least one item"}}},
		{"haproxy: another driver's key", "    driver: haproxy\n    instances:\n      - {name: a, socket: /s, upstream: /u}\n",
			[][]string{{"", "9", "31", `loadBalancers.web.instances[0].upstream: unknown key "upstream"; allowed keys: address, name, socket, via`}}},
		{"haproxy: a socket of the wrong shape", "    driver: haproxy\n    instances:\n      - name: a\n        socket: [/s]\n",
			[][]string{{"", "10", "17", "loadBalancers.web.instances[0].socket: expected a string, got a list"}}},
		{"nginx: no upstream", "    driver: nginx\n    instances:\n      - name: a\n        via: lbh\n",
			[][]string{{"", "9", "9", "loadBalancers.web.instances[0]: an nginx instance needs upstream: the file holding the upstream block"}}},
		{"command: no commands", "    driver: command\n    backend: app\n",
			[][]string{{"", "7", "5", "loadBalancers.web.commands: the command driver needs commands.enable"},
				{"", "7", "5", "loadBalancers.web.commands: the command driver needs commands.disable"}}},
		{"command: no enable, at the commands", "    driver: command\n    commands:\n      disable: x\n",
			[][]string{{"", "9", "7", "loadBalancers.web.commands: the command driver needs commands.enable"}}},
		{"command: a command of the wrong shape", "    driver: command\n    commands:\n      disable: x\n      enable: [y]\n",
			[][]string{{"", "10", "15", "loadBalancers.web.commands.enable: expected a string, got a list"}}},
		{"an unknown driver", "    driver: haproxi\n    instances:\n      - {name: a, sockett: /s}\n",
			[][]string{{"", "7", "13", `loadBalancers.web.driver: unknown load balancer driver "haproxi" (did you mean "haproxy"?)`},
				{"", "9", "19", `loadBalancers.web.instances[0].sockett: unknown key "sockett" (did you mean "socket"?)`}}},
		{"command: minHealthy it cannot enforce", "    driver: command\n    minHealthy: 1\n    commands: {disable: x, enable: y}\n",
			[][]string{{"", "8", "17", "loadBalancers.web.minHealthy: the command driver cannot see the states of its servers, so minHealthy cannot be enforced: remove it (or use a driver that can: haproxy, nginx)"}}},
		{"minHealthy: 100% leaves none to drain", "    driver: haproxy\n    minHealthy: 100%\n    instances: [{socket: /s}]\n",
			[][]string{{"", "8", "17", `loadBalancers.web.minHealthy: must be a count such as 1 or a percentage below 100% such as "50%"`}}},
		{"minHealthy: not a share", "    driver: haproxy\n    minHealthy: half\n    instances: [{socket: /s}]\n",
			[][]string{{"", "8", "17", `loadBalancers.web.minHealthy: must be a count such as 1 or a percentage below 100% such as "50%"`}}},
		{"minHealthy: negative", "    driver: haproxy\n    minHealthy: -1\n    instances: [{socket: /s}]\n",
			[][]string{{"", "8", "17", `loadBalancers.web.minHealthy: must be at least 0 (got -1)`}}},
		{"generic checks stay", "    driver: nginx\n    servers: {n2: s}\n    instances:\n      - {name: a, upstream: /u}\n      - {name: a, upstream: /v, via: nonode}\n",
			[][]string{{"", "8", "15", `loadBalancers.web.servers: no node named "n2" in this inventory (did you mean "n1"?)`},
				{"", "11", "16", `loadBalancers.web.instances[1].name: instance "a" is listed twice`},
				{"", "11", "38", `loadBalancers.web.instances[1].via: no node named "nonode" in this inventory`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv, probs := load.ParseInventory("inv.yaml", []byte(invHead+tc.lb))
			if inv != nil {
				t.Fatal("a broken inventory loaded")
			}
			checkProblems(t, "inv.yaml", probs, tc.want)
		})
	}
}

// minHealthy is a count or a percentage; 0 or absent is no check, which
// every driver allows.
func TestMinHealthyForms(t *testing.T) {
	tests := []struct {
		lb      string
		n       int
		percent bool
	}{
		{"    driver: haproxy\n    minHealthy: 2\n    instances: [{socket: /s}]\n", 2, false},
		{"    driver: haproxy\n    minHealthy: 50%\n    instances: [{socket: /s}]\n", 50, true},
		{"    driver: nginx\n    minHealthy: \"0%\"\n    instances: [{upstream: /u}]\n", 0, true},
		{"    driver: haproxy\n    instances: [{socket: /s}]\n", 0, false},
		{"    driver: command\n    minHealthy: 0\n    commands: {disable: x, enable: y}\n", 0, false},
	}
	for _, tc := range tests {
		inv, probs := load.ParseInventory("inv.yaml", []byte(invHead+tc.lb))
		if len(probs) > 0 {
			t.Errorf("%s: %v", tc.lb, probs)
			continue
		}
		if l := inv.LBs["web"]; l.MinHealthy != tc.n || l.MinHealthyPercent != tc.percent {
			t.Errorf("%s: minHealthy %d percent %v, want %d %v", tc.lb, l.MinHealthy, l.MinHealthyPercent, tc.n, tc.percent)
		}
	}
}
