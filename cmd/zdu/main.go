// Command zdu runs zero-downtime upgrade plans: validate a plan, show what it
// would do, draw its graph, run it, or rehearse it on a local sandbox.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/zdu-dev/zdu/engine/exitcode"
	"github.com/zdu-dev/zdu/engine/mask"

	_ "github.com/zdu-dev/zdu/steps/all"
)

// Short names for the exit codes every command shares (engine/exitcode
// defines them); a failing phase exits with its own code.
const (
	exitOK          = exitcode.OK
	exitBadInput    = exitcode.BadInput
	exitFatal       = exitcode.Fatal
	exitInterrupted = exitcode.Interrupted
)

const usage = `zdu: declarative zero-downtime upgrades

Usage:
  zdu validate PLAN [-i INVENTORY] [--set k=v ...] [--format text|json]
  zdu plan PLAN -i INVENTORY [--set k=v ...] [--format text|json]
  zdu graph PLAN -i INVENTORY [--set k=v ...] [--format dot|mermaid]
  zdu run PLAN -i INVENTORY [--set k=v ...] [--run-dir DIR] [--probe URL [--probe-rate RPS]] [--report]
  zdu rehearse PLAN [-i INVENTORY | --nodes N] [--fail NODE:STEP ...] [--rate RPS] [--run-dir DIR] [--report]
  zdu resume RUNDIR|RUNID [--set secret=v ...] [--rerun-in-flight] [--accept-changes]
  zdu status RUNDIR|RUNID [--format text|json] [--watch]
  zdu unlock RUNID
  zdu abandon RUNID              (a run that died: release its nodes, recorded with who)
  zdu approve RUNDIR|RUNID       (a canary's pause that waits for an operator: go on)
  zdu abort RUNDIR|RUNID         (... or stop there)
  zdu report RUNDIR|RUNID [-o report.html]
  zdu history [--state DIR] [--format text|json]
  zdu show RUNID|RUNDIR [--format text|json]
  zdu sandbox up PLAN [-i INVENTORY | --nodes N] [--dir DIR] [--rate RPS]
  zdu sandbox status|down [--dir DIR] [--format text|json]
  zdu sandbox hold|release NODE:STEP ... [--dir DIR]
  zdu schema plan|template|inventory|rehearsal
  zdu init [--from TEMPLATE] [--name NAME] DIR   (a new product's plan, inventory, rehearsal file)
  zdu completion bash|zsh|fish   (the shell completion script)
  zdu version                    (or zdu --version)
  zdu help [COMMAND]             (or zdu COMMAND -h: the command's flags)

Exit codes: 0 success, 2 bad input, 80 fatal error, 82 a gate fired, 83 a canary aborted,
else the failing phase's exitCode.
`

type command struct {
	name string
	run  func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"validate", cmdValidate},
		{"schema", cmdSchema},
		{"plan", cmdPlan},
		{"graph", cmdGraph},
		{"run", cmdRun},
		{"rehearse", cmdRehearse},
		{"resume", cmdResume},
		{"status", cmdStatus},
		{"unlock", cmdUnlock},
		{"abandon", cmdAbandon},
		{"approve", cmdApprove},
		{"abort", cmdAbort},
		{"report", cmdReport},
		{"history", cmdHistory},
		{"show", cmdShow},
		{"sandbox", cmdSandbox},
		{"version", cmdVersion},
		{"init", cmdInit},
		{"completion", cmdCompletion},
		{"__complete", cmdComplete}, // hidden: what the completion scripts call
		{"__man", cmdMan},           // hidden: the manual page, for the package
	}
}

// interruptSignals all stop a run the same graceful way: the operator's ^C,
// a service manager's TERM, a lost terminal's HUP.
var interruptSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

func main() {
	// A closed stdout or stderr (zdu run ... | head) must not kill zdu in the
	// middle of a run: with SIGPIPE caught, the write fails instead, and the
	// run stops gracefully (see outputGuard). Caught, not ignored: commands
	// zdu starts get the default SIGPIPE back.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), interruptSignals...)
	defer stop()
	os.Exit(dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// dispatch runs a command with its output masked: whatever the command
// writes, a secret it learnt (mask.FromContext(ctx).Add) is hidden.
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	m := mask.New(nil)
	mo, me := m.Writer(stdout), m.Writer(stderr)
	defer mo.Flush()
	defer me.Flush()
	return dispatchCommand(mask.NewContext(ctx, m), args, mo, me)
}

func dispatchCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitBadInput
	}
	switch args[0] {
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "-version", "--version":
		args = append([]string{"version"}, args[1:]...)
	case "help":
		switch {
		case len(args) == 1 || args[1] == "help" || args[1] == "-h" || args[1] == "--help":
			fmt.Fprint(stdout, usage)
			return exitOK
		case len(args) > 2:
			fmt.Fprintf(stderr, "zdu help: expected one COMMAND, got %d arguments\n", len(args)-1)
			return exitBadInput
		}
		// zdu help run is zdu run -h.
		args = []string{args[1], "-h"}
	}
	names := []string{"help"}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
		names = append(names, c.name)
	}
	if strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(stderr, "zdu: %s: a flag must follow a command%s\n%s", args[0], didYouMean(strings.TrimLeft(args[0], "-"), names), usage)
		return exitBadInput
	}
	fmt.Fprintf(stderr, "zdu: unknown command %q%s\n%s", args[0], didYouMean(args[0], names), usage)
	return exitBadInput
}

// usageError is a wrong flag or argument: exit 2 with the message.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func badUsage(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// report prints err and returns its exit code. A help request (-h) is not
// an error: the command's flags go to stdout, exit 0.
func report(stdout, stderr io.Writer, cmd string, err error) int {
	var help helpRequest
	if errors.As(err, &help) {
		help.printHelp(stdout)
		return exitOK
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "zdu %s: %s\n", cmd, ue.msg)
		return exitBadInput
	}
	fmt.Fprintf(stderr, "zdu %s: %v\n", cmd, err)
	return exitFatal
}
