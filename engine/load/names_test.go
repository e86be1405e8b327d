package load_test

import (
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/engine/load"
)

// A node name is one word everywhere it goes: only HAProxy's characters for
// a server name, with no leading '-' or '.'.
func TestCheckNodeName(t *testing.T) {
	good := []string{"web-1", "web_1", "web.example.com", "Node-A", "_x", "10.0.0.1", "h:8080", "9", strings.Repeat("a", 253)}
	for _, name := range good {
		if err := load.CheckNodeName(name); err != nil {
			t.Errorf("CheckNodeName(%q) = %v, want nil", name, err)
		}
	}
	bad := map[string]string{
		"":                             "cannot be empty",
		"web 1":                        `' ' (U+0020) at byte 3 is not allowed`,
		"web/1":                        `'/' (U+002F) at byte 3 is not allowed`,
		"node-1; set server x":         `';' (U+003B) at byte 6`,
		"a\nb":                         `'\n' (U+000A) at byte 1`,
		"a\x00b":                       `'\x00' (U+0000) at byte 1`,
		"web\u202e1":                   `'\u202e' (U+202E) at byte 3`,
		"w\u0435b":                     `'\u0435' (U+0435) at byte 1`, // Cyrillic е
		"a\xffb":                       "byte 0xff at byte 1",
		"-oProxyCommand=x":             `cannot start with '-'`,
		"..":                           `cannot start with '.'`,
		strings.Repeat("a", 254):       "at most 253 bytes long, this one is 254",
		"web\uff1bset":                 `'\uff1b' (U+FF1B) at byte 3`, // fullwidth semicolon
		"$(id)":                        `'$' (U+0024) at byte 0`,
		"a\u200bb":                     `'\u200b' (U+200B) at byte 1`,
		"web*":                         `'*' (U+002A) at byte 3`,
		"../etc":                       `cannot start with '.'`,
		"web\\1":                       `'\\' (U+005C) at byte 3`,
		"`id`":                         "'`' (U+0060) at byte 0",
		"a\rb":                         `'\r' (U+000D) at byte 1`,
		"x'y":                          `'\'' (U+0027) at byte 1`,
		"x\"y":                         `'"' (U+0022) at byte 1`,
		"x|y":                          `'|' (U+007C) at byte 1`,
		"x&&y":                         `'&' (U+0026) at byte 1`,
		"x#y":                          `'#' (U+0023) at byte 1`,
		"x\ty":                         `'\t' (U+0009) at byte 1`,
		"app/n1 state maint<<":         `'/' (U+002F) at byte 3`,
		"x\u00a0y":                     `'\u00a0' (U+00A0) at byte 1`,
		"x{y}":                         `'{' (U+007B) at byte 1`,
		"%s%n":                         `'%' (U+0025) at byte 0`,
		"x\x1b[31my":                   `'\x1b' (U+001B) at byte 1`,
		"x@y":                          `'@' (U+0040) at byte 1`,
		"x=y":                          `'=' (U+003D) at byte 1`,
		"x?y":                          `'?' (U+003F) at byte 1`,
		"x,y":                          `',' (U+002C) at byte 1`,
		"x~y":                          `'~' (U+007E) at byte 1`,
		"x\u2028y":                     `'\u2028' (U+2028) at byte 1`,
		"web\U0001F600":                `'\U0001f600' (U+1F600) at byte 3`,
		"web-1\u0301":                  `'\u0301' (U+0301) at byte 5`,
		"x\x7fy":                       `'\x7f' (U+007F) at byte 1`,
		"x<y":                          `'<' (U+003C) at byte 1`,
		"x>y":                          `'>' (U+003E) at byte 1`,
		"x!y":                          `'!' (U+0021) at byte 1`,
		"x+y":                          `'+' (U+002B) at byte 1`,
		"x(y)":                         `'(' (U+0028) at byte 1`,
		"x[y]":                         `'[' (U+005B) at byte 1`,
		"x^y":                          `'^' (U+005E) at byte 1`,
		"tab\vx":                       `'\v' (U+000B) at byte 3`,
		"\ufeffweb":                    `'\ufeff' (U+FEFF) at byte 0`,
		"web\u00ad1":                   `'\u00ad' (U+00AD) at byte 3`,
		"web\u2066x\u2069":             `'\u2066' (U+2066) at byte 3`,
		"x;y":                          `';' (U+003B) at byte 1`,
		"x y":                          `' ' (U+0020) at byte 1`,
		strings.Repeat("é", 130):       "at most 253 bytes long, this one is 260",
		"a" + strings.Repeat("b", 300): "at most 253 bytes long, this one is 301",
	}
	for name, want := range bad {
		err := load.CheckNodeName(name)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckNodeName(%q) = %v, want an error with %q", name, err, want)
		}
	}
}

// Names are checked where the inventory gives them, each problem at the
// name's line and column, saying what is allowed; every driver checks its
// backend and server names its own way.
func TestInventoryNameProblems(t *testing.T) {
	const allowed = "a name may contain only ASCII letters, digits, '-', '_', '.' and ':'"
	tests := []struct {
		name, inv string
		want      [][]string
	}{
		{"node name with a runtime API separator",
			"apiVersion: zdu/v1\nnodes:\n  - name: \"node-1; set server nova-api/node-2 state maint\"\n",
			[][]string{{"", "3", "11", `nodes[0].name: node name "node-1; set server nova-api/node-2 state maint": ';' (U+003B) at byte 6 is not allowed: ` + allowed}}},
		{"node names that would share a log file",
			"apiVersion: zdu/v1\nnodes:\n  - name: web_1\n  - name: web/1\n  - {name: web 1}\n",
			[][]string{{"", "4", "11", `nodes[1].name: node name "web/1": '/' (U+002F) at byte 3 is not allowed: ` + allowed},
				{"", "5", "12", `nodes[2].name: node name "web 1": ' ' (U+0020) at byte 3 is not allowed: ` + allowed}}},
		{"node name with a leading dash",
			"apiVersion: zdu/v1\nnodes:\n  - name: -n1\n",
			[][]string{{"", "3", "11", `nodes[0].name: node name "-n1": a name cannot start with '-': it must start with a letter, a digit or '_'`}}},
		{"overlong node name",
			"apiVersion: zdu/v1\nnodes:\n  - name: " + strings.Repeat("n", 300) + "\n",
			[][]string{{"", "3", "11", `nodes[0].name: node name "` + strings.Repeat("n", 48) + `"...: a name is at most 253 bytes long, this one is 300`}}},
		{"haproxy backend and server",
			invHead + "    driver: haproxy\n    backend: \"app;x\"\n    servers: {n1: \"s 1\"}\n    instances: [{name: h, socket: /s}]\n",
			[][]string{{"", "8", "14", `loadBalancers.web.backend: backend name "app;x": ';' (U+003B) at byte 3 is not allowed: ` + allowed},
				{"", "9", "19", `loadBalancers.web.servers.n1: server name "s 1": ' ' (U+0020) at byte 1 is not allowed: ` + allowed}}},
		{"nginx server address",
			invHead + "    driver: nginx\n    backend: app\n    servers: {n1: \"10.0.0.1:80 down; server evil:80\", lbh: \"unix:/run/app.sock\"}\n    instances: [{name: h, upstream: /u}]\n",
			[][]string{{"", "9", "19", `loadBalancers.web.servers.n1: server name "10.0.0.1:80 down; server evil:80": ' ' (U+0020) at byte 11 is not allowed: a name may contain only ASCII letters, digits, '-', '_', '.', ':', '[', ']' and '/'`}}},
		{"command driver names",
			invHead + "    driver: command\n    backend: \"/Common/pool\"\n    servers: {n1: \"$(id)\", lbh: \"a\\nb\"}\n    commands: {disable: x, enable: y}\n",
			[][]string{{"", "9", "33", `loadBalancers.web.servers.lbh: server name "a\nb": '\n' (U+000A) at byte 1 is not allowed: a name may hold any printable characters but white space`}}},
		{"instance name",
			invHead + "    driver: haproxy\n    instances: [{name: \"lb\\u202e1\", socket: /s}]\n",
			[][]string{{"", "8", "24", `loadBalancers.web.instances[0].name: instance name "lb\u202e1": '\u202e' (U+202E) at byte 2 is not allowed: ` + allowed}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv, probs := load.ParseInventory("inv.yaml", []byte(tc.inv))
			if inv != nil {
				t.Fatal("an inventory with a bad name loaded")
			}
			checkProblems(t, "inv.yaml", probs, tc.want)
		})
	}
}

// A NUL byte in a var is refused at the value: nothing can hold it.
func TestVarWithNUL(t *testing.T) {
	_, probs := load.ParseInventory("inv.yaml", []byte("apiVersion: zdu/v1\nvars: {a: \"x\\0y\"}\nnodes:\n  - name: n1\n    vars:\n      dirs: [ok, \"p\\0\"]\n"))
	checkProblems(t, "inv.yaml", probs, [][]string{
		{"", "2", "11", "vars.a: var a holds a NUL byte (at byte 1), which no command, URL or file can hold"},
		{"", "6", "13", "nodes[0].vars.dirs: var dirs holds a NUL byte in element 1 (at byte 1), which no command, URL or file can hold"},
	})
}
