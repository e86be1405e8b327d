package main

import (
	"context"
	"fmt"
	"io"

	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/schema"
)

func cmdSchema(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		return report(stderr, "schema", badUsage("expected plan or inventory"))
	}
	switch args[0] {
	case "plan":
		b, err := load.PlanSchema()
		if err != nil {
			return report(stderr, "schema", err)
		}
		fmt.Fprintf(stdout, "%s\n", b)
	case "inventory":
		fmt.Fprintf(stdout, "%s\n", schema.InventorySchema())
	default:
		return report(stderr, "schema", badUsage("unknown schema %q: expected plan or inventory%s", args[0], didYouMean(args[0], []string{"plan", "inventory"})))
	}
	return exitOK
}
