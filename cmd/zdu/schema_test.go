package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the schema files editors use")

// TestSchemaFilesUpToDate: the schema files that plans and inventories name
// for editors (`# yaml-language-server: $schema=../schema/plan.schema.json`)
// are exactly what `zdu schema` prints, every step type's `with` included.
func TestSchemaFilesUpToDate(t *testing.T) {
	for _, kind := range []string{"plan", "template", "inventory"} {
		var out, errb bytes.Buffer
		if code := dispatch(context.Background(), []string{"schema", kind}, &out, &errb); code != 0 {
			t.Fatalf("zdu schema %s: exit %d: %s", kind, code, errb.String())
		}
		path := filepath.Join("..", "..", "schema", kind+".schema.json")
		if *update {
			if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run: go test ./cmd/zdu -run TestSchemaFilesUpToDate -update)", err)
		}
		if !bytes.Equal(got, out.Bytes()) {
			t.Errorf("%s is stale: go test ./cmd/zdu -run TestSchemaFilesUpToDate -update", path)
		}
		if kind == "plan" && !bytes.Contains(got, []byte(`"lb-drain"`)) {
			t.Errorf("the plan schema lacks the registered step types")
		}
	}
}

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"valdate", "x"}, exitBadInput, `unknown command "valdate" (did you mean "validate"?)`},
		{[]string{"validate"}, exitBadInput, "expected one PLAN file"},
		{[]string{"validate", "p.yaml", "--format", "yml"}, exitBadInput, `--format "yml": must be one of text, json`},
		{[]string{"plan", "p.yaml"}, exitBadInput, "missing -i INVENTORY"},
		{[]string{"run", "p.yaml", "-i", "i.yaml", "--bogus"}, exitBadInput, "unknown flag -bogus; zdu run -h lists the flags"},
		{[]string{"validate", "p.yaml", "--formt", "json"}, exitBadInput, "unknown flag -formt (did you mean --format?)"},
		{[]string{"run", "p.yaml", "-i", "i.yaml", "--format", "json"}, exitBadInput, "unknown flag -format"},
		{[]string{"rehearse", "p.yaml", "--node", "2"}, exitBadInput, "unknown flag -node (did you mean --nodes?)"},
		{[]string{"--verison"}, exitBadInput, `a flag must follow a command (did you mean "version"?)`},
		{[]string{"version", "extra"}, exitBadInput, `takes no arguments, got "extra"`},
		{[]string{}, exitBadInput, "Usage:"},
		{[]string{"help", "run", "extra"}, exitBadInput, "expected one COMMAND, got 2 arguments"},
		{[]string{"validate", "p.yaml", "-x"}, exitBadInput, "unknown flag -x; zdu validate -h"},
		{[]string{"schema", "plna"}, exitBadInput, `did you mean "plan"?`},
		{[]string{"validate", "/nonexistent/plan.yaml"}, exitBadInput, "/nonexistent/plan.yaml: cannot read plan: no such file or directory"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := dispatch(context.Background(), c.args, &out, &errb)
		if code != c.code || !bytes.Contains(append(out.Bytes(), errb.Bytes()...), []byte(c.want)) {
			t.Errorf("zdu %v: exit %d, output %q %q; want exit %d containing %q", c.args, code, out.String(), errb.String(), c.code, c.want)
		}
	}
}
