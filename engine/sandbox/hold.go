package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/zdu-dev/zdu/schema"
)

// Holds catch a step in its middle: a stand-in called while a hold is set
// on its key stops half-way (systemctl restart: after the stop, before the
// start; sysupgrade: after its log line, before its work is recorded) and
// waits until the hold is released. Fault tests kill zdu there. The keys
// are the failure keys, plus service-start: the command that starts the
// node's service returns at once and the service comes up only once the
// hold is released, so the step after it (a wait) is the one caught.
const ServiceStart = "service-start"

// CheckHoldKey says whether a stand-in holds on key.
func CheckHoldKey(key string) error {
	if key == ServiceStart {
		return nil
	}
	if err := CheckFailureKey(key); err != nil {
		hint := ""
		if s := schema.Suggest(key, append([]string{ServiceStart}, FailureKeys...)); s != "" {
			hint = fmt.Sprintf(" (did you mean %q?)", s)
		}
		return fmt.Errorf("no sandbox stand-in holds on %q%s; known steps: %s, %s", key, hint, ServiceStart, strings.Join(FailureKeys, ", "))
	}
	return nil
}

// Hold sets a hold on key for the node laid out at l.
func Hold(l Layout, key string) error {
	if err := CheckHoldKey(key); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(l.HoldDir(), key), nil, 0o644); err != nil {
		return fmt.Errorf("holding %s: %w", key, err)
	}
	return nil
}

// Release lifts the hold on key: a stand-in waiting on it goes on.
func Release(l Layout, key string) error {
	if err := CheckHoldKey(key); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(l.HoldDir(), key)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("releasing %s: %w", key, err)
	}
	return nil
}

// Held lists the keys held on the node, and, of them, those a stand-in is
// waiting on right now.
func Held(l Layout) (held, waiting []string) {
	ents, _ := os.ReadDir(l.HoldDir())
	seen := map[string]bool{}
	for _, e := range ents {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, ".waiting.")
		if !ok {
			held = append(held, name)
			continue
		}
		dot := strings.LastIndexByte(rest, '.')
		if dot < 0 {
			continue
		}
		pid, err := strconv.Atoi(rest[dot+1:])
		if err != nil || syscall.Kill(pid, 0) != nil {
			_ = os.Remove(filepath.Join(l.HoldDir(), name)) // its stand-in was killed
			continue
		}
		if key := rest[:dot]; !seen[key] {
			seen[key] = true
			waiting = append(waiting, key)
		}
	}
	sort.Strings(held)
	sort.Strings(waiting)
	return held, waiting
}
