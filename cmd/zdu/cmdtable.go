package main

import (
	"context"
	"flag"
	"io"
	"sort"
	"strings"

	"github.com/zdu-dev/zdu/engine/view"
)

// The command table that completion, the manual page and the contract test
// read. The flags are not written here again: flagsOf asks the command
// itself (its -h), so a flag added to a command is completed and documented
// with no other change. What a flag's value or a positional argument is
// (a plan file, a node, a directory) is the one thing said here.

// cmdInfo says what completion and the manual need to know of a command
// beyond its flags.
type cmdInfo struct {
	// summary is one line for completion menus and the manual.
	summary string
	// args says what each positional argument is, in order; the last
	// repeats.
	args []argKind
}

// argKind is what a positional argument or a flag's value is.
type argKind struct {
	kind  string   // one of the arg* constants
	words []string // argWord: the allowed words
}

const (
	argNone     = "none"     // nothing to offer
	argFile     = "file"     // any file
	argPlan     = "plan"     // a YAML file (plan or inventory)
	argDir      = "dir"      // a directory
	argRun      = "run"      // a run directory or a run id
	argWord     = "word"     // one of words
	argCommand  = "command"  // a zdu command
	argParam    = "param"    // NAME= of the plan's params (--set)
	argParamF   = "paramf"   // NAME=FILE (--set-file)
	argNodeStep = "nodestep" // NODE:KEY (--fail, sandbox hold)
	argTemplate = "template" // a zdu init template
)

func kind(k string, words ...string) argKind { return argKind{kind: k, words: words} }

var cmdInfos = map[string]cmdInfo{
	"validate":   {"check a plan (and inventory) and report every problem", []argKind{kind(argPlan), kind(argNone)}},
	"plan":       {"dry run: every command, wait and LB action, per node, in order", []argKind{kind(argPlan), kind(argNone)}},
	"graph":      {"draw the compiled graph (dot or mermaid)", []argKind{kind(argPlan), kind(argNone)}},
	"run":        {"run a plan against an inventory", []argKind{kind(argPlan), kind(argNone)}},
	"rehearse":   {"run a plan on a local sandbox with live traffic", []argKind{kind(argPlan), kind(argNone)}},
	"resume":     {"go on with a stopped run", []argKind{kind(argRun), kind(argNone)}},
	"status":     {"show a run's state: nodes, locks, drained nodes", []argKind{kind(argRun), kind(argNone)}},
	"unlock":     {"release the locks of a dead run", []argKind{kind(argRun), kind(argNone)}},
	"abandon":    {"give up a dead run: release its unfinished nodes, recording who", []argKind{kind(argRun), kind(argNone)}},
	"approve":    {"let a canary's paused rollout go on", []argKind{kind(argRun), kind(argNone)}},
	"abort":      {"stop a canary's paused rollout there", []argKind{kind(argRun), kind(argNone)}},
	"report":     {"write a run's HTML report", []argKind{kind(argRun), kind(argNone)}},
	"history":    {"list the runs in the state directory", []argKind{kind(argNone)}},
	"show":       {"show one run of the history", []argKind{kind(argRun), kind(argNone)}},
	"sandbox":    {"keep a rehearsal sandbox up between commands", []argKind{kind(argWord, "up", "status", "down", "hold", "release")}},
	"schema":     {"print a JSON Schema for editors", []argKind{kind(argWord, schemaKinds...), kind(argNone)}},
	"version":    {"print the version and VCS revision", []argKind{kind(argNone)}},
	"completion": {"print the shell completion script", []argKind{kind(argWord, "bash", "zsh", "fish"), kind(argNone)}},
	"init":       {"scaffold a new product's plan, inventory and rehearsal file", []argKind{kind(argDir), kind(argNone)}},
}

// sandboxArgs are sandbox's arguments after its subcommand.
var sandboxArgs = map[string][]argKind{
	"up":      {kind(argPlan), kind(argNone)},
	"status":  {kind(argNone)},
	"down":    {kind(argNone)},
	"hold":    {kind(argNodeStep)},
	"release": {kind(argNodeStep)},
}

// flagValues says what a flag's value is, by flag name, for every command
// that has it. A value flag not named here completes file names.
var flagValues = map[string]argKind{
	"i":          kind(argPlan),
	"inventory":  kind(argPlan),
	"set":        kind(argParam),
	"set-file":   kind(argParamF),
	"fail":       kind(argNodeStep),
	"run-dir":    kind(argDir),
	"state":      kind(argDir),
	"dir":        kind(argDir),
	"o":          kind(argFile),
	"from":       kind(argTemplate),
	"log-format": kind(argWord, view.Formats...),
	// Numbers, durations, URLs and budgets: nothing to offer.
	"nodes": kind(argNone), "rate": kind(argNone), "startup": kind(argNone), "stop-grace": kind(argNone),
	"probe": kind(argNone), "probe-rate": kind(argNone), "probe-timeout": kind(argNone), "probe-budget": kind(argNone),
	"max-dials": kind(argNone), "max-connections": kind(argNone), "dial-rate": kind(argNone),
}

// visibleCommands are the commands an operator is shown, sorted, with help.
func visibleCommands() []string {
	names := []string{"help"}
	for _, c := range commands() {
		if !strings.HasPrefix(c.name, "__") {
			names = append(names, c.name)
		}
	}
	sort.Strings(names)
	return names
}

// flagSink takes the place of stdout when flagsOf asks a command for its
// help: report hands it the command's flag set instead of printing it.
type flagSink struct{ fs *flag.FlagSet }

func (s *flagSink) Write(p []byte) (int, error) { return len(p), nil }

// flagsOf returns the flags the command name defines, by running it with
// -h (every command parses its flags first and stops there on -h); nil for
// an unknown command.
func flagsOf(name string) *flag.FlagSet {
	for _, c := range commands() {
		if c.name == name {
			sink := &flagSink{}
			c.run(context.Background(), []string{"-h"}, sink, io.Discard)
			return sink.fs
		}
	}
	return nil
}

func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// isBool reports whether f takes no value.
func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// formatWords returns the values a --format-like flag allows, read from
// its usage ("output format: text or json", "auto or console (...), text
// (...), json (...)"): the words before "or", between commas.
func formatWords(f *flag.Flag) []string {
	u := f.Usage
	if i := strings.LastIndex(u, ": "); i >= 0 {
		u = u[i+2:]
	}
	var out []string
	for _, part := range strings.Split(u, ",") {
		for _, w := range strings.Split(part, " or ") {
			w = strings.TrimSpace(w)
			if i := strings.IndexAny(w, " ("); i >= 0 {
				w = w[:i]
			}
			if w != "" && strings.Trim(w, "abcdefghijklmnopqrstuvwxyz-") == "" {
				out = append(out, w)
			}
		}
	}
	return out
}
