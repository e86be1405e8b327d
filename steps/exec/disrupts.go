package exec

import (
	"regexp"
	"strings"

	"github.com/zdu-dev/zdu/steps/step"
)

// disruptive finds, in a command as the plan writes it, the service
// manager commands that stop or restart a service: a heuristic, for the
// availability lint (zdu validate's warning about a step that no drain
// precedes). It cannot see into interpolated values or scripts; a plan
// says `disrupts: true` on such a step, and `disrupts: false` on a match
// that does not disrupt (a unit no load balancer sends traffic to).
var disruptive = regexp.MustCompile(`\bsystemctl\s+(?:-{1,2}[A-Za-z][\w-]*(?:=\S+)?\s+)*(?:stop|restart|try-restart|reload-or-restart|try-reload-or-restart|condrestart)\b` +
	`|\bservice\s+[^\s;&|]+\s+(?:stop|restart|force-restart)\b` +
	`|/etc/init\.d/[^\s;&|]+\s+(?:stop|restart|force-restart)\b`)

var _ step.Disrupter = (*execStep)(nil)

// Disrupts says whether an ssh-exec step's command stops or restarts a
// service on its node (see disruptive). A local-exec runs on the control
// node: only the plan can say that it disrupts the node's service.
func (s *execStep) Disrupts() (bool, string) {
	if s.local || s.command == nil {
		return false, ""
	}
	m := disruptive.FindString(s.command.Source())
	if m == "" {
		return false, ""
	}
	return true, "its command runs `" + strings.Join(strings.Fields(m), " ") + "`"
}
