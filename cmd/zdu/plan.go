package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/dag"
	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/engine/mask"
	"github.com/zdu-dev/zdu/engine/run"
)

// planFlags are the flags every command that needs plan + inventory shares.
type planFlags struct {
	fs      *flag.FlagSet
	inv     *string
	sets    multi
	format  *string // nil without formats
	formats []string
}

// newPlanFlags registers the shared flags, and --format when the command
// has formats to choose from (the first is the default).
func newPlanFlags(name string, formats ...string) *planFlags {
	f := &planFlags{fs: flag.NewFlagSet(name, flag.ContinueOnError), formats: formats}
	f.inv = f.fs.String("i", "", "inventory file")
	f.fs.StringVar(f.inv, "inventory", "", "inventory file")
	registerSets(f.fs, &f.sets, "param value")
	if len(formats) > 0 {
		f.format = f.fs.String("format", formats[0], "output format: "+strings.Join(formats, " or "))
	}
	return f
}

// compileFrom parses args, loads and binds plan + inventory, and compiles.
// It also returns what it read.
func (f *planFlags) compileFrom(ctx context.Context, args []string, stdout io.Writer) (*compile.Program, loaded, error) {
	pos, err := parseInterleaved(f.fs, args)
	if err == nil && len(pos) != 1 {
		err = badUsage("expected one PLAN file, got %d arguments", len(pos))
	}
	if err == nil && *f.inv == "" {
		err = badUsage("missing -i INVENTORY")
	}
	if err == nil && f.format != nil {
		err = oneOf("format", *f.format, f.formats...)
	}
	if err != nil {
		return nil, loaded{}, err
	}
	in, probs := loadAll(ctx, pos[0], *f.inv, load.BindOptions{Sets: f.sets, RequireParams: true})
	if len(probs) > 0 {
		for _, p := range probs {
			fmt.Fprintln(stdout, p.String())
		}
		return nil, loaded{}, badUsage("%d problem(s) in the plan, inventory or flags", len(probs))
	}
	prog, err := compile.Compile(in.Binding)
	if err != nil {
		return nil, loaded{}, badUsage("%v", err)
	}
	return prog, in, nil
}

func cmdPlan(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newPlanFlags("plan", "text", "json")
	prog, _, err := f.compileFrom(ctx, args, stdout)
	if err != nil {
		return report(stdout, stderr, "plan", err)
	}
	dry, err := run.Explain(prog, mask.New(prog.Binding.Secrets))
	if err != nil {
		return report(stdout, stderr, "plan", badUsage("%v", err))
	}
	if *f.format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(dry)
		return exitOK
	}
	printDry(stdout, dry)
	return exitOK
}

func printDry(w io.Writer, d *run.DryPlan) {
	fmt.Fprintf(w, "plan %s (dry run: nothing is contacted)\n", d.Plan)
	if d.Gates != "" {
		fmt.Fprintf(w, "gates: %s\n", d.Gates)
	}
	for i, ph := range d.Phases {
		from := ""
		if ph.Origin != "" {
			from = ", from " + ph.Origin
		}
		fmt.Fprintf(w, "\nphase %d: %s [%s], %s, exit code %d on failure%s\n", i+1, ph.ID, ph.Title, ph.Strategy, ph.ExitCode, from)
		if ph.When != "" {
			fmt.Fprintf(w, "  when: %s\n", ph.When)
		}
		for _, n := range ph.Nodes {
			if n.Skipped != "" {
				fmt.Fprintf(w, "  node %s (batch %d): skipped, %s\n", n.Name, n.Batch, n.Skipped)
				continue
			}
			fmt.Fprintf(w, "  node %s (batch %d)\n", n.Name, n.Batch)
			printDrySteps(w, n.Steps)
		}
	}
	for _, rb := range d.Rollbacks {
		if rb.Node == "" {
			fmt.Fprintf(w, "\nrollback %s: never runs (no rollback-on rule names it)\n", rb.Name)
			continue
		}
		fmt.Fprintf(w, "\nrollback %s (shown for node %s, the first that can run it)\n", rb.Name, rb.Node)
		printDrySteps(w, rb.Steps)
	}
}

func printDrySteps(w io.Writer, steps []run.DryStep) {
	for _, s := range steps {
		extra := []string{}
		if s.When != "" {
			extra = append(extra, "when "+s.When)
		}
		if s.Timeout != "" {
			extra = append(extra, "timeout "+s.Timeout)
		}
		if s.Retries > 0 {
			extra = append(extra, fmt.Sprintf("retries %d", s.Retries))
		}
		head := fmt.Sprintf("    - %s (%s)", s.ID, s.Type)
		if len(extra) > 0 {
			head += " [" + strings.Join(extra, ", ") + "]"
		}
		if s.Origin != "" {
			head += " from " + s.Origin
		}
		if s.Skipped != "" {
			head += ": skipped, " + s.Skipped
		}
		fmt.Fprintln(w, head)
		for _, a := range s.Actions {
			fmt.Fprintf(w, "        %s\n", strings.ReplaceAll(a, "\n", "\n        "))
		}
	}
}

func cmdGraph(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newPlanFlags("graph", "dot", "mermaid")
	fold := f.fs.Bool("fold", false, "draw each template use on a node as one vertex, labelled with the template")
	prog, _, err := f.compileFrom(ctx, args, stdout)
	if err != nil {
		return report(stdout, stderr, "graph", err)
	}
	g := prog.Graph
	if *fold {
		if g, err = compile.Fold(prog); err != nil {
			return report(stdout, stderr, "graph", fmt.Errorf("folding the graph: %w", err))
		}
	}
	if *f.format == "mermaid" {
		fmt.Fprint(stdout, dag.Mermaid(g))
	} else {
		fmt.Fprint(stdout, dag.Dot(g))
	}
	return exitOK
}
