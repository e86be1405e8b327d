package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/engine/exitcode"
)

// TestCLIContract pins the command line as operators and scripts use it:
// every command's flags (name, whether it takes a value and of what kind,
// its default) and the exit codes of the calls that need no plan (help, a
// misspelt flag, missing arguments), and zdu's shared exit codes. It reads
// the flags from the commands themselves (flagsOf), so a change to any of
// them, or a move of the command tree to another CLI library, shows here
// as a diff of testdata/cli-contract.golden:
//
//	go test ./cmd/zdu -run TestCLIContract -update
func TestCLIContract(t *testing.T) {
	golden, err := filepath.Abs(filepath.Join("testdata", "cli-contract.golden"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "exit codes: ok %d, bad input %d, held %d, fatal %d, error budget %d, gate %d, aborted %d, interrupted %d\n",
		exitcode.OK, exitcode.BadInput, exitcode.Held, exitcode.Fatal, exitcode.ErrorBudget, exitcode.Gate, exitcode.Aborted, exitcode.Interrupted)
	call := func(args ...string) int {
		return dispatch(context.Background(), args, io.Discard, io.Discard)
	}
	for _, args := range [][]string{{}, {"--help"}, {"--version"}, {"help"}, {"help", "run"}, {"help", "run", "plan"}, {"nope"}, {"--set", "x=1"}} {
		fmt.Fprintf(&b, "zdu %s: exit %d\n", strings.Join(args, " "), call(args...))
	}
	for _, name := range visibleCommands() {
		if name == "help" {
			continue
		}
		fmt.Fprintf(&b, "\n%s\n", name)
		// Without arguments some commands do their work (history lists
		// runs): in an empty state directory and an empty working
		// directory, so that nothing here is read or left.
		t.Chdir(t.TempDir())
		t.Setenv("ZDU_STATE", filepath.Join(t.TempDir(), "state"))
		fmt.Fprintf(&b, "  exit: -h %d, --no-such-flag %d, no arguments %d\n", call(name, "-h"), call(name, "--no-such-flag"), call(name))
		fs := flagsOf(name)
		if fs == nil {
			t.Errorf("%s: no flags learnt from -h", name)
			continue
		}
		fs.VisitAll(func(f *flag.Flag) {
			kind, _ := flag.UnquoteUsage(f)
			if isBool(f) {
				kind = "bool"
			}
			def := f.DefValue
			if f.Name == "state" {
				def = "(the state directory)"
			}
			fmt.Fprintf(&b, "  %s %s default %q\n", dashed(f.Name), kind, def)
		})
	}
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test ./cmd/zdu -run TestCLIContract -update writes it)", err)
	}
	if !bytes.Equal(want, []byte(b.String())) {
		t.Errorf("the command line changed; if on purpose: go test ./cmd/zdu -run TestCLIContract -update, and update docs/cli.md\n--- got\n%s", b.String())
	}
}
