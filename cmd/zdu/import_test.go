package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/engine/enginetest"
)

// phaseOrigin is the end of a dry run's phase line for an imported phase.
var phaseOrigin = regexp.MustCompile(`(?m), from [^ \n]+:[0-9]+$`)

// TestImportedPlan: a product plan that imports the generic rolling plan
// (plans/lib/rolling.yaml) with overrides dry-runs exactly as the same plan
// written out (testdata/import/shop.written.yaml), apart from origins; its
// dry run (testdata/import/shop.plan.golden) shows where each imported
// phase and step is written; it validates and draws, folded or not.
func TestImportedPlan(t *testing.T) {
	t.Setenv("ZDU_LIBRARY", filepath.Join("..", "..", "plans"))
	dir := filepath.Join("testdata", "import")
	inv := filepath.Join(dir, "shop.inventory.yaml")
	run := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := dispatch(context.Background(), args, &out, &errb); code != 0 {
			t.Fatalf("zdu %s: exit %d: %s%s", strings.Join(args, " "), code, out.String(), errb.String())
		}
		return out.String()
	}
	imported := run("plan", filepath.Join(dir, "shop.yaml"), "-i", inv)
	enginetest.Golden(t, filepath.Join(dir, "shop.plan.golden"), imported, *update)
	for _, want := range []string{
		"phase 2: roll [ROLL], batch 2 (2 at once, 2 batches); roll: canary of 1 node(s), watched for 10s, exit code 20 on failure, from ../../plans/lib/rolling.yaml:",
		"- downgrade_on_failure (rollback-on) from ../../plans/lib/rolling.yaml:",
		"- migrate (ssh-exec)\n",
		"- upgrade (ssh-exec)\n",
	} {
		if !strings.Contains(imported, want) {
			t.Errorf("the dry run lacks %q", want)
		}
	}
	written := run("plan", filepath.Join(dir, "shop.written.yaml"), "-i", inv)
	strip := func(s string) string { return originTail.ReplaceAllString(phaseOrigin.ReplaceAllString(s, ""), "$1") }
	if a, b := strip(imported), strip(written); a != b {
		t.Errorf("the import dry-runs otherwise than the plan written out:\n--- imported\n%s\n--- written\n%s", a, b)
	}
	if out := run("validate", filepath.Join(dir, "shop.yaml"), "-i", inv); !strings.Contains(out, "valid") {
		t.Errorf("validate: %s", out)
	}
	folded := run("graph", filepath.Join(dir, "shop.yaml"), "-i", inv, "--fold", "--format", "mermaid")
	if !strings.Contains(folded, `["restart (uses systemd-restart.yaml, 2 steps)"]`) || !strings.Contains(folded, `["migrate (ssh-exec)"]`) {
		t.Errorf("zdu graph --fold:\n%s", folded)
	}
}
