//go:build zdufaults

package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/zdu-dev/zdu/engine/journal"
)

// faultKillAfter names the crash tests' fault: ZDU_FAULT_KILL_AFTER=N makes
// zdu kill itself (SIGKILL: no handler, no compensation, no summary) right
// after its journal has written the Nth end of a step or rollback step in
// this process (passed, failed or skipped): a crash at a step boundary,
// nothing written or done after that event.
const faultKillAfter = "ZDU_FAULT_KILL_AFTER"

func init() {
	faultSinks = func() []journal.Sink {
		v := os.Getenv(faultKillAfter)
		if v == "" {
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "zdu: %s=%q: want a count of 1 or more\n", faultKillAfter, v)
			os.Exit(exitBadInput)
		}
		return []journal.Sink{&killAfter{left: n}}
	}
}

type killAfter struct{ left int }

// Event is called under the journal's lock, after the event is written:
// no other event follows it.
func (k *killAfter) Event(e journal.Event) {
	if e.Kind != journal.KindStep && e.Kind != journal.KindRollback || e.Step == "" {
		return
	}
	switch e.State {
	case journal.Passed, journal.Failed, journal.Skipped:
	default:
		return
	}
	if k.left--; k.left == 0 {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way; nothing else happens here
	}
}
