package expr

import (
	"time"
)

// testScope and testEnv are the fixture most tests share: one of each kind
// of param, strict vars, one registered result and one extra name.
func testScope() Scope {
	return Scope{
		Params: map[string]Kind{
			"dir":      KindString,
			"port":     KindInt,
			"enabled":  KindBool,
			"startup":  KindDuration,
			"files":    KindList,
			"anything": KindAny,
		},
		Vars:    map[string]bool{"anm": true, "java_home": true},
		Results: map[string]bool{"version": true},
		Extra:   []string{"stat"},
	}
}

func testEnv() *Env {
	params := map[string]any{
		"dir":      "/opt/My Axway",
		"port":     8080,
		"enabled":  true,
		"startup":  30 * time.Second,
		"files":    []any{"a b.txt", "it's", "$HOME"},
		"anything": map[string]any{"k": "v"},
	}
	vars := map[string]any{"anm": true, "java_home": "/usr/lib/jvm"}
	node := NodeData{Name: "Node-A", Host: "10.0.0.11", Port: 22, User: "axway", Groups: []string{"Gateway", "AdminNodeManager"}}
	results := map[string]map[string]any{
		"version": {"ok": true, "exitCode": 0, "stdout": "7.7.0\n", "stderr": "", "data": map[string]any{"major": 7}},
	}
	return NewEnv(params, vars, node, "export", results)
}
