package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/engine/sandbox"
)

// schemaKinds are the schemas zdu schema prints (completion offers them).
var schemaKinds = []string{"plan", "template", "inventory", "rehearsal"}

func cmdSchema(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("schema", flag.ContinueOnError)
	args, err := parseInterleaved(fs, args)
	if err == nil && len(args) != 1 {
		err = badUsage("expected plan, template, inventory or rehearsal")
	}
	if err != nil {
		return report(stdout, stderr, "schema", err)
	}
	switch args[0] {
	case "plan":
		b, err := load.PlanSchema()
		if err != nil {
			return report(stdout, stderr, "schema", err)
		}
		fmt.Fprintf(stdout, "%s\n", b)
	case "template":
		b, err := load.TemplateSchema()
		if err != nil {
			return report(stdout, stderr, "schema", err)
		}
		fmt.Fprintf(stdout, "%s\n", b)
	case "inventory":
		b, err := load.InventorySchema()
		if err != nil {
			return report(stdout, stderr, "schema", err)
		}
		fmt.Fprintf(stdout, "%s\n", b)
	case "rehearsal":
		fmt.Fprintf(stdout, "%s", sandbox.RehearsalSchema())
	default:
		return report(stdout, stderr, "schema", badUsage("unknown schema %q: expected plan, template, inventory or rehearsal%s", args[0], didYouMean(args[0], schemaKinds)))
	}
	return exitOK
}
