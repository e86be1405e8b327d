package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/engine/mask"
	"github.com/zdu-dev/zdu/schema"
)

func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	inv := fs.String("i", "", "inventory file")
	fs.StringVar(inv, "inventory", "", "inventory file")
	format := fs.String("format", "text", "output format: text or json")
	var sets multi
	registerSets(fs, &sets, "param value")
	pos, err := parseInterleaved(fs, args)
	if err == nil && len(pos) != 1 {
		err = badUsage("expected one PLAN file, got %d arguments", len(pos))
	}
	if err == nil {
		err = oneOf("format", *format, "text", "json")
	}
	if err != nil {
		return report(stdout, stderr, "validate", err)
	}
	in, probs := loadAll(ctx, pos[0], *inv, load.BindOptions{Sets: sets})
	// What needs the plan bound to an inventory: without -i, or when either
	// file has problems, those checks were not made.
	var unchecked []string
	warnings := []schema.Problem{}
	if in.Binding == nil {
		unchecked = needsInventory
	} else {
		warnings = append(warnings, load.Lint(in.Binding)...)
	}
	if *format == "json" {
		out := validateJSON{Valid: len(probs) == 0, Problems: probs, Warnings: warnings, Unchecked: unchecked}
		if out.Problems == nil {
			out.Problems = []schema.Problem{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
	} else {
		for _, p := range probs {
			fmt.Fprintln(stdout, p.String())
		}
		for _, w := range warnings {
			w.Msg = "warning: " + w.Msg
			fmt.Fprintln(stdout, w.String())
		}
		if len(probs) == 0 {
			s := in.summary()
			if len(warnings) > 0 {
				s += fmt.Sprintf("; %d warning(s)", len(warnings))
			}
			fmt.Fprintln(stdout, s)
		} else {
			fmt.Fprintf(stderr, "zdu validate: %d problem(s)\n", len(probs))
		}
		switch {
		case len(unchecked) == 0:
		case *inv == "":
			fmt.Fprintf(stdout, "not checked without -i INVENTORY: %s\n", strings.Join(unchecked, "; "))
		default:
			fmt.Fprintf(stdout, "not checked until the problems above are fixed: %s\n", strings.Join(unchecked, "; "))
		}
	}
	if len(probs) > 0 {
		return exitBadInput
	}
	return exitOK
}

// validateJSON is validate's --format json output (documented in docs/cli.md).
type validateJSON struct {
	Valid    bool             `json:"valid"`
	Problems []schema.Problem `json:"problems"`
	// Warnings are what is valid but likely a mistake (see load.Lint):
	// they leave the plan valid and the exit code 0. Made only once the
	// plan is bound to an inventory.
	Warnings []schema.Problem `json:"warnings"`
	// Unchecked lists the checks that need the plan bound to an inventory,
	// when there was none or either file had problems.
	Unchecked []string `json:"unchecked,omitempty"`
}

// needsInventory are the checks validate can only make with -i.
var needsInventory = []string{
	"vars.NAME references (defined on every node the step runs on)",
	"targets (groups and nodes)",
	"load balancer and node names in steps",
	"results registered on every node that reads them",
}

// loaded is what loadAll read; Binding is nil without an inventory.
type loaded struct {
	Plan    *load.Plan
	Inv     *load.Inventory
	Binding *load.Binding
	// The files as read, for a run's record, and the templates and
	// imported plans the plan loaded, from the library it looked in.
	PlanFile, InvFile string
	PlanData, InvData []byte
	Files             []load.SourceFile
	Library           []string
}

func (l loaded) summary() string {
	steps := 0
	for _, ph := range l.Plan.Phases {
		steps += len(ph.Steps)
	}
	s := fmt.Sprintf("%s: valid (plan %q: %d phases, %d steps)", l.Plan.File, l.Plan.Name, len(l.Plan.Phases), steps)
	if l.Inv != nil {
		s += fmt.Sprintf("; %s: valid (%d nodes, %d load balancers)", l.Inv.File, len(l.Inv.Nodes), len(l.Inv.LBs))
	}
	return s
}

// loadAll reads and checks a plan, and an inventory when given, reporting
// every problem of both files at once.
// The values of the plan's secret params (from --set, --set-file, the
// environment, the inventory) are added to the masker ctx carries as soon
// as they are known, bound or not: every later output hides them.
//
// Templates the plan uses are looked for beside it, then in libDirs (a
// resumed run's plan is a copy: beside the original), then in the library.
func loadAll(ctx context.Context, planFile, invFile string, opt load.BindOptions, libDirs ...string) (loaded, []schema.Problem) {
	return loadAllWith(ctx, planFile, invFile, opt, load.ParseOptions{Library: append(libDirs, library()...)})
}

// loadAllWith is loadAll with the plan's templates and imports found as
// popts says (zdu resume: the run's copies).
func loadAllWith(ctx context.Context, planFile, invFile string, opt load.BindOptions, popts load.ParseOptions) (loaded, []schema.Problem) {
	out := loaded{PlanFile: planFile, InvFile: invFile, Library: popts.Library}
	var probs []schema.Problem
	if data, err := readInput(planFile); err != nil {
		probs = append(probs, schema.Problem{File: planFile, Msg: fmt.Sprintf("cannot read plan: %v", err)})
	} else {
		out.PlanData = data
		if out.Plan, probs = load.ParsePlanWith(planFile, data, popts); out.Plan != nil {
			out.Files = out.Plan.Files
		}
	}
	if invFile != "" {
		data, err := readInput(invFile)
		if err != nil {
			probs = append(probs, schema.Problem{File: invFile, Msg: fmt.Sprintf("cannot read inventory: %v", err)})
		} else {
			var ips []schema.Problem
			out.InvData = data
			out.Inv, ips = load.ParseInventory(invFile, data)
			probs = append(probs, ips...)
		}
	}
	if out.Plan != nil && out.Inv != nil {
		var bps []schema.Problem
		if opt.LookupEnv == nil {
			opt.LookupEnv = os.LookupEnv // params' env:
		}
		out.Binding, bps = load.Bind(out.Plan, out.Inv, opt)
		probs = append(probs, bps...)
	}
	hideSecrets(ctx, out, opt)
	return out, probs
}

// installedLibrary is where the Debian package installs the shipped plans
// and their template library (lib/).
const installedLibrary = "/usr/share/zdu/plans"

// library lists the template library's directories: those in ZDU_LIBRARY
// (a path list), then plans/ beside the zdu binary, where plans/lib ships
// in a checkout, then where the package installs it.
func library() []string {
	var dirs []string
	for _, d := range filepath.SplitList(os.Getenv("ZDU_LIBRARY")) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Join(filepath.Dir(exe), "plans"))
	}
	return append(dirs, installedLibrary)
}

// hideSecrets tells the masker every secret value the load saw.
func hideSecrets(ctx context.Context, in loaded, opt load.BindOptions) {
	m := mask.FromContext(ctx)
	if m == nil || in.Plan == nil {
		return
	}
	if in.Binding != nil {
		m.Add(in.Binding.Secrets...)
		return
	}
	// Not bound (a problem): the raw values given for secret params.
	for _, p := range in.Plan.Params {
		if !p.Secret {
			continue
		}
		for _, s := range opt.Sets {
			if name, v, ok := strings.Cut(s, "="); ok && name == p.Name {
				m.Add(v)
			}
		}
		if p.Env != "" && opt.LookupEnv != nil {
			if v, ok := opt.LookupEnv(p.Env); ok {
				m.Add(v)
			}
		}
		if in.Inv != nil {
			for _, n := range in.Inv.Nodes {
				if v, ok := n.Vars[p.Name]; ok {
					m.Add(fmt.Sprint(v))
				}
			}
		}
	}
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
