package lbdrain

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	lbcommand "github.com/zdu-dev/zdu/steps/lb/command"
	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/steptest"
	"github.com/zdu-dev/zdu/steps/transport"
	"github.com/zdu-dev/zdu/steps/transport/local"
)

// commandLB is a load balancer run by shell commands that keep its state in
// files: DIR/INSTANCE.SERVER.off exists while the server is disabled there.
func commandLB(t *testing.T, status bool, instances ...string) (step.LoadBalancer, string) {
	dir := t.TempDir()
	q := transport.Quote(dir)
	cmds := lbcommand.Config{Commands: map[string]string{
		"disable": `[ "$ZDU_INSTANCE" != broken ] || exit 3; touch ` + q + `/"$ZDU_INSTANCE.$ZDU_SERVER.off"`,
		"enable":  `rm -f ` + q + `/"$ZDU_INSTANCE.$ZDU_SERVER.off"`,
	}}
	l := step.LoadBalancer{Name: "f5", Driver: "command", Backend: "pool", Servers: map[string]string{"node-1": "member-1"}, Config: cmds}
	if status {
		cmds.Commands["status"] = `f=` + q + `/"$ZDU_INSTANCE.$ZDU_SERVER.off"; [ ! -e ` + q + `/stuck ] || exit 1; if [ "$ZDU_EXPECT" = drained ]; then [ -e "$f" ]; else [ ! -e "$f" ]; fi`
	}
	for _, in := range instances {
		l.Instances = append(l.Instances, step.LBInstance{Name: in, Via: "lb-host"})
	}
	return l, dir
}

func cmdContext(l step.LoadBalancer) *steptest.Context {
	return &steptest.Context{NodeInfo: step.Node{Name: "node-1", Host: "10.0.0.1"},
		Others: map[string]transport.Transport{"lb-host": local.New()},
		LBs:    map[string]step.LoadBalancer{l.Name: l}}
}

func offFiles(t *testing.T, dir string) []string {
	m, err := filepath.Glob(filepath.Join(dir, "*.off"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

func TestCommandDriver(t *testing.T) {
	tests := []struct {
		name      string
		status    bool
		instances []string
		stuck     bool // the status never says drained: 200ms to time out, however many looks fit
		wantErr   string
		wantOff   string // files present after the drain
	}{
		{name: "no instances: control node, drain time", wantOff: "f5.member-1.off"},
		{name: "status on two instances", status: true, instances: []string{"a", "b"}, wantOff: "a.member-1.off b.member-1.off"},
		{name: "second instance fails, first re-enabled", instances: []string{"a", "broken"}, wantErr: "disable command for broken on lb-host exited 3 (put back on 1 instance(s))"},
		{name: "status never drained, re-enabled", status: true, instances: []string{"a"}, stuck: true, wantErr: "status of member-1 not drained after 200ms on: a (put back on 1 instance(s))"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, dir := commandLB(t, tc.status, tc.instances...)
			if tc.stuck {
				if err := os.WriteFile(filepath.Join(dir, "stuck"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			rc := cmdContext(l)
			timeout := "30s" // a status that says drained is never waited out
			if tc.stuck {
				timeout = "200ms"
			}
			out, err := run(t, "lb-drain", map[string]any{"lb": "f5", "drainTime": "10ms", "interval": "20ms", "timeout": timeout}, rc)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q\n%s", err, tc.wantErr, rc.Logged())
				}
				if off := offFiles(t, dir); len(off) != 0 {
					t.Errorf("still disabled after the failed drain: %v", off)
				}
				return
			}
			if err != nil {
				t.Fatalf("drain: %v\n%s", err, rc.Logged())
			}
			if got := strings.Join(offFiles(t, dir), " "); got != tc.wantOff {
				t.Errorf("disabled = %q, want %q", got, tc.wantOff)
			}
			// Each instance reported taken out, then, with a status
			// command, idle.
			var states []string
			for _, p := range rc.Reported() {
				if p.Kind == step.ProgressLB {
					states = append(states, p.Subject+":"+p.Detail["state"].(string))
				}
			}
			places := tc.instances
			if len(places) == 0 {
				places = []string{"f5"} // no instances: the load balancer itself, from the control node
			}
			want := []string{}
			for _, in := range places {
				want = append(want, in+":drain")
			}
			for _, in := range places {
				if tc.status {
					want = append(want, in+":idle")
				}
			}
			if strings.Join(states, " ") != strings.Join(want, " ") {
				t.Errorf("lb reports %v, want %v", states, want)
			}
			if err := out.Undo.Run(ctxT(t), rc); err != nil {
				t.Fatalf("undo: %v", err)
			}
			if off := offFiles(t, dir); len(off) != 0 {
				t.Errorf("still disabled after the undo: %v", off)
			}
			if _, err := run(t, "lb-drain", map[string]any{"lb": "f5", "drainTime": "10ms", "interval": "20ms"}, rc); err != nil {
				t.Fatal(err)
			}
			out, err = run(t, "lb-enable", map[string]any{"lb": "f5", "interval": "20ms"}, rc)
			if err != nil || len(out.Settles) != 1 || out.Settles[0] != "lb/f5/node-1" {
				t.Fatalf("enable: %v, settles %v", err, out.Settles)
			}
			if off := offFiles(t, dir); len(off) != 0 {
				t.Errorf("still disabled after enable: %v", off)
			}
		})
	}
}
