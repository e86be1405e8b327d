package sandbox

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestShippedRehearsalFiles: the shipped plans' rehearsal files load, and
// the schema editors are pointed at (schema/rehearsal.schema.json) is the
// one zdu checks with.
func TestShippedRehearsalFiles(t *testing.T) {
	for plan, port := range map[string]string{"nova-api.yaml": "api_port", "axway-7.7.yaml": "gateway_port", "keycloak.yaml": "mgmt_port"} {
		r, probs := FindRehearsal(filepath.Join("..", "..", "plans", plan))
		if len(probs) > 0 {
			t.Fatalf("%s: %v", plan, probs)
		}
		if r.File == "" || r.PortVar != port {
			t.Errorf("%s: rehearsal file %q, port %q; want one beside the plan naming %s", plan, r.File, r.PortVar, port)
		}
	}
	copyOf, err := os.ReadFile(filepath.Join("..", "..", "schema", "rehearsal.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(copyOf, RehearsalSchema()) {
		t.Error("schema/rehearsal.schema.json differs from engine/sandbox/rehearsal.schema.json: copy it over")
	}
	r, probs := FindRehearsal(filepath.Join(t.TempDir(), "none.yaml"))
	if len(probs) > 0 || r.File != "" || !r.Builtins || r.PortVar != "" {
		t.Errorf("without a rehearsal file: %+v %v, want the built-in stand-ins only", r, probs)
	}
}

func TestParseRehearsal(t *testing.T) {
	good := `apiVersion: zdu/v1
kind: Rehearsal
service: {port: http_port, health: /ready}
versions: {old: "1.0", new: "2.0"}
data: {cluster: blue}
standins:
  - name: up
    command: pkg upgrade *
    effect: install-new
    duration: 1s
    output: "now {new} on {node} in {data.cluster}"
allow: ["df -h *"]
loadBalancer: {driver: nginx, instances: 2}
`
	r, probs := ParseRehearsal("r.yaml", []byte(good))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	st := r.StandIns[0]
	if r.PortVar != "http_port" || r.HealthPath != "/ready" || r.OldVersion != "1.0" || r.NewVersion != "2.0" || !r.Builtins ||
		st.Name != "up" || st.Effect != "install-new" || st.Duration != time.Second || r.LBDriver != "nginx" || r.LBInstances != 2 ||
		st.Command.At != "r.yaml:8:14" || len(r.Allow) != 1 {
		t.Errorf("parsed %+v, stand-in %+v", r, st)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown key", "standins:\n  - command: x\n    efect: stop\n", "r.yaml:3:5"},
		{"bad effect", "standins:\n  - command: x\n    effect: explode\n", "r.yaml:3:13"},
		{"bad duration", "standins:\n  - command: x\n    duration: soon\n", "r.yaml:3:15"},
		{"duplicate name", "standins:\n  - {name: a, command: x}\n  - {name: a, command: y}\n", "r.yaml:3:12: standins[1].name: name \"a\" is taken"},
		{"unknown placeholder", "standins:\n  - {command: x, output: \"{verison}\"}\n", "r.yaml:2:5: standins[0]: unknown placeholder {verison}"},
		{"port var in vars", "service: {port: p}\nvars: {p: 1}\n", "r.yaml:2:11"},
		{"same versions", "versions: {old: a, new: a}\n", "r.yaml:1:25"},
		{"bad driver", "loadBalancer: {driver: f5}\n", "r.yaml:1:24"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, probs := ParseRehearsal("r.yaml", []byte("apiVersion: zdu/v1\nkind: Rehearsal\n"+tc.yaml))
			// The header is two lines: shift the wanted line.
			want := shiftLine(tc.want, 2)
			if len(probs) == 0 || !strings.HasPrefix(probs[0].String(), want) {
				t.Errorf("problems %v, want one starting %q", probs, want)
			}
		})
	}
}

// shiftLine adds n to the line of "FILE:LINE:COL...".
func shiftLine(s string, n int) string {
	parts := strings.SplitN(s, ":", 3)
	line, _ := strconv.Atoi(parts[1])
	parts[1] = strconv.Itoa(line + n)
	return strings.Join(parts, ":")
}
func TestUnwrapAndCoverage(t *testing.T) {
	r, probs := ParseRehearsal("r.yaml", []byte(`apiVersion: zdu/v1
kind: Rehearsal
standins:
  - command: dnf -y upgrade keycloak
  - command: "rpm -q *"
allow: ["df -Pm *"]
`))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	root := "/tmp/sb/nodes/n1"
	for _, tc := range []struct {
		script string
		local  bool
		want   string
	}{
		{`sudo -n -- sh -c 'dnf -y upgrade '\''keycloak'\'''`, false, "standin dnf -y upgrade keycloak"},
		{`dnf -y upgrade 'keycloak'`, false, "standin dnf -y upgrade keycloak"},
		{`dnf -y upgrade 'keycloak' && rm -rf /`, false, ""},
		{`cd '/opt/x' && export A='1'; rpm -q 'x'`, false, "standin rpm -q *"},
		{`df -Pm /var`, false, "allow df -Pm *"},
		{`df -Pm /var`, true, "allow df -Pm *"},
		{`rpm -q x`, true, ""}, // a stand-in cannot answer what runs on this machine
		{`systemctl restart 'keycloak'`, false, "builtin"},
		{`DEBIAN_FRONTEND=noninteractive apt-get install -y 'x'`, false, "builtin"},
		{`systemctl restart x; touch /tmp/y`, false, ""},
		{`'/tmp/sb/nodes/n1/Axway 7.7/apigateway/posix/bin/startinstance' -d`, false, "builtin"},
		{`'/opt/Axway/apigateway/posix/bin/startinstance' -d`, false, ""},
		{`IFS= read -r v; pgrep -f -- "$v"`, false, "zdu"},
		{`touch /tmp/x`, false, ""},
		{`psql -c 'select 1'`, false, ""},
	} {
		if got, _ := r.Coverage(tc.script, root, tc.local); got != tc.want {
			t.Errorf("Coverage(%q, local %v) = %q, want %q", tc.script, tc.local, got, tc.want)
		}
	}
	if cmd, dir := Unwrap(`cd '/a b' && export X='it'\''s'; echo 'hi'`); cmd != `echo 'hi'` || dir != "/a b" {
		t.Errorf("Unwrap = %q, %q", cmd, dir)
	}
}
