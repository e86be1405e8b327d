package sandbox

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/zdu-dev/zdu/schema"
)

// FailureKeys are the failure keys the stand-ins check (see standins.go),
// for --fail and its did-you-mean. systemctl-VERB takes any verb.
var FailureKeys = []string{
	"export", "upgrade", "pre-apply", "apply", "post-apply",
	"sysupgrade-export", "sysupgrade-upgrade", "sysupgrade-pre-apply", "sysupgrade-apply", "sysupgrade-post-apply",
	"startinstance", "startinstance-d", "startinstance-k",
	"nodemanager", "nodemanager-d", "nodemanager-k",
	"restart", "systemctl-restart", "systemctl-stop", "systemctl-kill",
	"apt-get", "nova-manage",
}

var systemctlVerb = regexp.MustCompile(`^systemctl-[a-z][a-z-]*$`)

// CheckFailureKey says whether a stand-in answers key, suggesting the
// nearest known key when none does.
func CheckFailureKey(key string, standIns ...string) error {
	for _, k := range slices.Concat(FailureKeys, standIns) {
		if k == key {
			return nil
		}
	}
	if systemctlVerb.MatchString(key) {
		return nil
	}
	hint := ""
	known := slices.Concat([]string{HealthFault}, standIns, FailureKeys)
	if s := schema.Suggest(key, known); s != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", s)
	}
	return fmt.Errorf("no sandbox stand-in fails on %q%s; known steps: %s", key, hint, strings.Join(known, ", "))
}

// Fired reports whether the injected failure f made its stand-in fail at
// least once (the stand-in logs "FAIL KEY exit CODE").
func (s *Sandbox) Fired(f Failure) bool {
	if f.Step == RefuseFault {
		return s.refused(f.Node)
	}
	n := s.Node(f.Node)
	if n == nil {
		return false
	}
	switch f.Step {
	case "version", HealthFault:
		return n.Service.BadVersionServed()
	case "startup":
		return n.Service.SlowStarted()
	case "ssh":
		return n.SSH.WentDown()
	}
	b, err := os.ReadFile(n.Layout.Log())
	if err != nil {
		return false
	}
	return bytes.Contains(b, []byte(fmt.Sprintf("FAIL %s exit ", f.Step)))
}
