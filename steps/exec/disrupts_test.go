package exec

import (
	"testing"

	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/steptest"
)

// The heuristic: service managers' stop and restart, in any of their
// usual spellings, and nothing else.
func TestDisrupts(t *testing.T) {
	tests := []struct {
		typ, command string
		want         bool
		why          string
	}{
		{"ssh-exec", "systemctl restart ${{ params.service }}", true, "its command runs `systemctl restart`"},
		{"ssh-exec", "sudo systemctl --no-block stop nova-api", true, "its command runs `systemctl --no-block stop`"},
		{"ssh-exec", "systemctl -q try-restart app.service && echo ok", true, "its command runs `systemctl -q try-restart`"},
		{"ssh-exec", "systemctl reload-or-restart nginx", true, "its command runs `systemctl reload-or-restart`"},
		{"ssh-exec", "service nova-api restart", true, "its command runs `service nova-api restart`"},
		{"ssh-exec", "rc-service nginx stop", true, "its command runs `service nginx stop`"},
		{"ssh-exec", "/etc/init.d/apache2 stop; sleep 1", true, "its command runs `/etc/init.d/apache2 stop`"},
		{"ssh-exec", "systemctl status nova-api", false, ""},
		{"ssh-exec", "systemctl reload nginx", false, ""},
		{"ssh-exec", "systemctl kill --signal=HUP nova-api nova-conductor", false, ""},
		{"ssh-exec", "systemctl start app", false, ""},
		{"ssh-exec", "./sysupgrade apply", false, ""},
		{"ssh-exec", "${{ raw params.upgrade_command }}", false, ""},
		{"ssh-exec", "restart-the-world --service stop", false, ""},
		// On the control node: not the node's service.
		{"local-exec", "systemctl restart app", false, ""},
	}
	for _, tc := range tests {
		act, err := steptest.Build(tc.typ, map[string]any{"command": tc.command})
		if err != nil {
			t.Fatal(err)
		}
		d, ok := act.(step.Disrupter)
		if !ok {
			t.Fatalf("%s is no step.Disrupter", tc.typ)
		}
		if got, why := d.Disrupts(); got != tc.want || why != tc.why {
			t.Errorf("%s %q: Disrupts() = %v, %q; want %v, %q", tc.typ, tc.command, got, why, tc.want, tc.why)
		}
	}
}
