package lbdrain

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"
	lbcommand "github.com/zdu-dev/zdu/steps/lb/command"
	"github.com/zdu-dev/zdu/steps/lb/haproxy"
	"github.com/zdu-dev/zdu/steps/lb/nginx"
	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/steptest"
)

func TestSchemas(t *testing.T) {
	tests := []struct {
		typ, with string
		ok        bool
	}{
		{"lb-drain", `{"lb": "web"}`, true},
		{"lb-drain", `{"lb": "web", "polls": 5, "interval": "500ms", "timeout": "5m", "onTimeout": "shutdown-sessions", "drainTime": "30s", "become": true}`, true},
		{"lb-drain", `{}`, false},
		{"lb-drain", `{"lb": "web", "onTimeout": "ignore"}`, false},
		{"lb-drain", `{"lb": "web", "polls": 0}`, false},
		{"lb-drain", `{"lb": "web", "minHealthyWait": "2m"}`, true},
		{"lb-drain", `{"lb": "web", "minHealthyWait": "soon"}`, false},
		{"lb-drain", `{"lb": "web", "weight": "100%"}`, false},
		{"lb-enable", `{"lb": "web", "healthUrl": "http://x/h", "healthStatus": 204, "weight": "50%", "waitUp": false, "timeout": "1m"}`, true},
		{"lb-enable", `{"lb": "web", "weight": "half"}`, false},
		{"lb-enable", `{"lb": "web", "polls": 3}`, false},
	}
	compiled := map[string]*jsonschema.Schema{}
	for _, tc := range tests {
		s, ok := compiled[tc.typ]
		if !ok {
			d, found := step.Lookup(tc.typ)
			if !found {
				t.Fatalf("%s not registered", tc.typ)
			}
			var raw struct {
				AdditionalProperties *bool                     `json:"additionalProperties"`
				Properties           map[string]map[string]any `json:"properties"`
			}
			if err := json.Unmarshal(d.Schema, &raw); err != nil {
				t.Fatal(err)
			}
			if raw.AdditionalProperties == nil || *raw.AdditionalProperties {
				t.Errorf("%s: additionalProperties must be false", tc.typ)
			}
			for k, p := range raw.Properties {
				if p["description"] == nil || p["description"] == "" {
					t.Errorf("%s.%s has no description", tc.typ, k)
				}
			}
			c := jsonschema.NewCompiler()
			c.Draft = jsonschema.Draft2020
			if err := c.AddResource(tc.typ, strings.NewReader(string(d.Schema))); err != nil {
				t.Fatal(err)
			}
			var err error
			if s, err = c.Compile(tc.typ); err != nil {
				t.Fatalf("%s: %v", tc.typ, err)
			}
			compiled[tc.typ] = s
		}
		var v any
		if err := json.Unmarshal([]byte(tc.with), &v); err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(v); (err == nil) != tc.ok {
			t.Errorf("%s %s: valid = %v, want %v (%v)", tc.typ, tc.with, err == nil, tc.ok, err)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	for _, tc := range []struct {
		typ  string
		with map[string]any
	}{
		{"lb-drain", map[string]any{}},
		{"lb-drain", map[string]any{"lb": "web", "polls": 0}},
		{"lb-drain", map[string]any{"lb": "web", "onTimeout": "ignore"}},
		{"lb-drain", map[string]any{"lb": "web", "interval": "0s"}},
		{"lb-drain", map[string]any{"lb": "web", "minHealthyWait": "-1s"}},
		{"lb-enable", map[string]any{"lb": "web", "weight": "300"}},
		{"lb-enable", map[string]any{"lb": "web", "weight": "x%"}},
	} {
		if _, err := steptest.Build(tc.typ, tc.with); err == nil {
			t.Errorf("%s %v built, want an error", tc.typ, tc.with)
		}
	}
}

// The dry run shows every socket line, command and wait, exactly.
func TestExplain(t *testing.T) {
	lbs := map[string]step.LoadBalancer{
		"nova-api": {Name: "nova-api", Driver: "haproxy", Backend: "nova-api", MinHealthy: 1, Instances: []step.LBInstance{
			{Name: "haproxy-1", Via: "haproxy-1", Config: haproxy.Config{Socket: "/var/run/haproxy.sock"}},
			{Name: "haproxy-2", Config: haproxy.Config{Address: "127.0.0.1:9999"}},
		}},
		"edge": {Name: "edge", Driver: "nginx", Backend: "app", MinHealthy: 1, Servers: map[string]string{"controller": "10.0.0.88:8774"},
			Instances: []step.LBInstance{{Name: "ng", Via: "lb", Config: nginx.Config{Upstream: "/etc/nginx/conf.d/app upstream.conf"}}}},
		"pct": {Name: "pct", Driver: "haproxy", Backend: "app", MinHealthy: 50, MinHealthyPercent: true, Instances: []step.LBInstance{
			{Name: "h", Config: haproxy.Config{Socket: "/s"}},
		}},
		"f5": {Name: "f5", Driver: "command", Backend: "pool", Config: lbcommand.Config{Commands: map[string]string{"disable": "f5 off", "enable": "f5 on"}}},
	}
	rc := &steptest.Context{NodeInfo: step.Node{Name: "controller", Host: "10.0.0.88"}, LBs: lbs}
	tests := []struct {
		typ  string
		with map[string]any
		want string
	}{
		{"lb-drain", map[string]any{"lb": "nova-api", "timeout": "2m", "onTimeout": "shutdown-sessions"}, `drain controller (server controller) from load balancer nova-api (haproxy driver, 2 instance(s))
haproxy haproxy-1 (unix:/var/run/haproxy.sock via haproxy-1): show cli level (must answer admin)
haproxy haproxy-1 (unix:/var/run/haproxy.sock via haproxy-1): show stat (refuse unless nova-api/controller exists)
haproxy haproxy-1 (unix:/var/run/haproxy.sock via haproxy-1): get weight nova-api/controller (recorded)
haproxy haproxy-2 (tcp:127.0.0.1:9999 via control node): show cli level (must answer admin)
haproxy haproxy-2 (tcp:127.0.0.1:9999 via control node): show stat (refuse unless nova-api/controller exists)
haproxy haproxy-2 (tcp:127.0.0.1:9999 via control node): get weight nova-api/controller (recorded)
haproxy haproxy-1 (unix:/var/run/haproxy.sock via haproxy-1): show stat (refuse unless at least 1 other server(s) of nova-api are UP)
haproxy haproxy-2 (tcp:127.0.0.1:9999 via control node): show stat (refuse unless at least 1 other server(s) of nova-api are UP)
haproxy haproxy-1 (unix:/var/run/haproxy.sock via haproxy-1): set server nova-api/controller state drain
haproxy haproxy-2 (tcp:127.0.0.1:9999 via control node): set server nova-api/controller state drain
wait until nova-api/controller has scur=0 and qcur=0 on every instance for 3 consecutive polls: show stat every 1s, up to 2m0s
on timeout: shutdown sessions server nova-api/controller on every instance, then go on
on a later failure of the node: re-enable it in nova-api`},
		{"lb-enable", map[string]any{"lb": "nova-api", "healthUrl": "http://10.0.0.88:8774/"}, `health gate: wait until GET http://10.0.0.88:8774/ from control answers 200, every 1s, up to 1m0s; else fail without enabling
enable controller (server controller) in load balancer nova-api (haproxy driver, 2 instance(s))
haproxy haproxy-1 (unix:/var/run/haproxy.sock via haproxy-1): show cli level (must answer admin)
haproxy haproxy-1 (unix:/var/run/haproxy.sock via haproxy-1): get weight nova-api/controller (initial weight)
haproxy haproxy-1 (unix:/var/run/haproxy.sock via haproxy-1): set weight nova-api/controller 100%
haproxy haproxy-1 (unix:/var/run/haproxy.sock via haproxy-1): set server nova-api/controller state ready
haproxy haproxy-1 (unix:/var/run/haproxy.sock via haproxy-1): get weight nova-api/controller (must show the weight just set)
haproxy haproxy-2 (tcp:127.0.0.1:9999 via control node): show cli level (must answer admin)
haproxy haproxy-2 (tcp:127.0.0.1:9999 via control node): get weight nova-api/controller (initial weight)
haproxy haproxy-2 (tcp:127.0.0.1:9999 via control node): set weight nova-api/controller 100%
haproxy haproxy-2 (tcp:127.0.0.1:9999 via control node): set server nova-api/controller state ready
haproxy haproxy-2 (tcp:127.0.0.1:9999 via control node): get weight nova-api/controller (must show the weight just set)
wait until nova-api/controller is UP with a weight on every instance: show stat every 1s, up to 2m0s`},
		{"lb-drain", map[string]any{"lb": "edge", "drainTime": "30s", "become": true}, `drain controller (server 10.0.0.88:8774) from load balancer edge (nginx driver, 1 instance(s))
nginx ng (/etc/nginx/conf.d/app upstream.conf via lb): cat -- '/etc/nginx/conf.d/app upstream.conf'; mark server 10.0.0.88:8774 of upstream app down (refuse unless at least 1 other server(s) of app are UP, counting servers not marked down or backup)
nginx ng (/etc/nginx/conf.d/app upstream.conf via lb): sudo -n -- sh -c 'f='\''/etc/nginx/conf.d/app upstream.conf'\''; t="$f.zdu-tmp.$$"; cp -p -- "$f" "$f.zdu-backup" && cp -p -- "$f" "$t" && cat > "$t" && mv -f -- "$t" "$f" || { rm -f -- "$t"; exit 1; }' (the edited file on stdin; skipped when nothing changes)
nginx ng (/etc/nginx/conf.d/app upstream.conf via lb): sudo -n -- sh -c 'nginx -t -q' (on failure: sudo -n -- sh -c 'f='\''/etc/nginx/conf.d/app upstream.conf'\''; mv -f -- "$f.zdu-backup" "$f"')
nginx ng (/etc/nginx/conf.d/app upstream.conf via lb): sudo -n -- sh -c 'nginx -s reload'
wait 30s (drainTime; nginx cannot report open requests per server)
(drain timeout: the step's timeout less a reserve, or 5m0s without one)
on a later failure of the node: re-enable it in edge`},
		{"lb-drain", map[string]any{"lb": "pct", "minHealthyWait": "2m"}, `drain controller (server controller) from load balancer pct (haproxy driver, 1 instance(s))
haproxy h (unix:/s via control node): show cli level (must answer admin)
haproxy h (unix:/s via control node): show stat (refuse unless app/controller exists)
haproxy h (unix:/s via control node): get weight app/controller (recorded)
haproxy h (unix:/s via control node): show stat (refuse unless at least 50% of the servers of app (rounded up) are UP besides it)
if too few other servers serve (minHealthy): read their states again every 1s, up to 2m0s (minHealthyWait), until enough do; else refuse
haproxy h (unix:/s via control node): set server app/controller state drain
wait until app/controller has scur=0 and qcur=0 on every instance for 3 consecutive polls: show stat every 1s, up to 5m0s
on timeout: set weight and state ready again on every instance, and fail
(drain timeout: the step's timeout less a reserve, or 5m0s without one)
on a later failure of the node: re-enable it in pct`},
		{"lb-enable", map[string]any{"lb": "f5"}, `enable controller (server controller) in load balancer f5 (command driver, 0 instance(s))
enable on control node: export ZDU_BACKEND='pool'; export ZDU_INSTANCE='f5'; export ZDU_LB='f5'; export ZDU_NODE='controller'; export ZDU_NODE_HOST='10.0.0.88'; export ZDU_SERVER='controller'; f5 on`},
	}
	for _, tc := range tests {
		act, err := steptest.Build(tc.typ, tc.with)
		if err != nil {
			t.Fatal(err)
		}
		got, err := act.Explain(rc)
		if err != nil {
			t.Fatalf("%s %v: %v", tc.typ, tc.with, err)
		}
		if g := strings.Join(got, "\n"); g != tc.want {
			t.Errorf("%s %v Explain =\n%s\nwant\n%s", tc.typ, tc.with, g, tc.want)
		}
	}
	// An unknown load balancer is an error, not a silent no-op.
	act, _ := steptest.Build("lb-drain", map[string]any{"lb": "nope"})
	if _, err := act.Explain(rc); err == nil || !strings.Contains(err.Error(), `unknown load balancer "nope"`) {
		t.Errorf("Explain with an unknown lb: %v", err)
	}
}
