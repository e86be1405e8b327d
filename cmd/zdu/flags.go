package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/zdu-dev/zdu/engine/safefile"
	"github.com/zdu-dev/zdu/schema"
)

// multi is a repeatable string flag (--set a=1 --set b=2).
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

// parseInterleaved parses flags that may come before or after positional
// arguments (`zdu validate plan.yaml -i inv.yaml`).
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, helpRequest{fs}
			}
			return nil, flagError(fs, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// flagError words a parse error of fs for the operator: an unknown flag
// gets a did-you-mean among the command's flags.
func flagError(fs *flag.FlagSet, err error) error {
	const unknown = "flag provided but not defined: "
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, unknown); ok {
		var names []string
		fs.VisitAll(func(f *flag.Flag) {
			if len(f.Name) > 1 { // -i is no typo's target
				names = append(names, f.Name)
			}
		})
		hint := ""
		if m := schema.Suggest(strings.TrimLeft(name, "-"), names); m != "" {
			hint = fmt.Sprintf(" (did you mean --%s?)", m)
		}
		return badUsage("unknown flag %s%s; zdu %s -h lists the flags", name, hint, fs.Name())
	}
	return badUsage("%s", msg)
}

// oneOf checks a flag's value against its allowed values.
func oneOf(flagName, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return badUsage("--%s %q: must be one of %s%s", flagName, v, strings.Join(allowed, ", "), didYouMean(v, allowed))
}

func didYouMean(s string, candidates []string) string {
	if m := schema.Suggest(s, candidates); m != "" {
		return fmt.Sprintf(" (did you mean %q?)", m)
	}
	return ""
}

// helpRequest is -h or --help: the command's flags, exit 0.
type helpRequest struct{ fs *flag.FlagSet }

func (h helpRequest) Error() string { return "help requested" }

// printHelp writes the command's usage line and flags to w.
// Asked by flagsOf (a flagSink), it hands over the flag set instead.
func (h helpRequest) printHelp(w io.Writer) {
	if sink, ok := w.(*flagSink); ok {
		sink.fs = h.fs
		return
	}
	name := h.fs.Name()
	fmt.Fprintln(w, "Usage:")
	for _, l := range strings.Split(usage, "\n") {
		if strings.HasPrefix(l, "  zdu "+name+" ") || l == "  zdu "+name {
			fmt.Fprintln(w, l)
		}
	}
	n := 0
	h.fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintln(w, "Flags (before or after the arguments; -NAME and --NAME are the same):")
	h.fs.SetOutput(w)
	h.fs.PrintDefaults()
	h.fs.SetOutput(io.Discard)
}

// maxSetFile bounds a --set-file: a param's value, not a document.
const maxSetFile = 1 << 20

// setFile is --set-file NAME=PATH: the value of param NAME is the content
// of the file at PATH (one trailing newline dropped), so that a secret
// need not be on the command line. It adds NAME=VALUE to sets.
type setFile struct{ sets *multi }

func (f setFile) String() string { return "" }

func (f setFile) Set(s string) error {
	name, path, ok := strings.Cut(s, "=")
	if !ok || name == "" || path == "" {
		return fmt.Errorf("--set-file %q: want NAME=PATH", s)
	}
	v, err := readValueFile(path)
	if err != nil {
		return fmt.Errorf("--set-file %s: %w", name, err)
	}
	*f.sets = append(*f.sets, name+"="+v)
	return nil
}

// readValueFile reads a regular file of at most maxSetFile bytes.
func readValueFile(path string) (string, error) {
	b, err := safefile.Read(path, maxSetFile)
	if err != nil {
		return "", err
	}
	v := strings.TrimSuffix(string(b), "\n")
	return strings.TrimSuffix(v, "\r"), nil
}

// registerSets adds --set and --set-file to fs, both into sets.
func registerSets(fs *flag.FlagSet, sets *multi, what string) {
	fs.Var(sets, "set", what+" name=value (repeatable)")
	fs.Var(setFile{sets: sets}, "set-file", what+" name=PATH: the value is the file's content, one trailing newline dropped (repeatable; a secret need not be on the command line)")
}
