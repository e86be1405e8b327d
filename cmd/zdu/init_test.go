package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInitScaffold: zdu init writes the plan, inventory and rehearsal
// file; as written they validate, dry-run and rehearse green (every node
// upgraded, no request lost), with CHANGE comments for the operator, and
// the plan finds lib/ through the library search path from anywhere.
func TestInitScaffold(t *testing.T) {
	t.Setenv("ZDU_LIBRARY", filepath.Join("..", "..", "plans"))
	dir := filepath.Join(t.TempDir(), "shop-api")
	var out, errb bytes.Buffer
	if code := dispatch(context.Background(), []string{"init", dir}, &out, &errb); code != 0 {
		t.Fatalf("init: exit %d\n%s%s", code, out.String(), errb.String())
	}
	plan := filepath.Join(dir, "shop-api.yaml")
	inv := filepath.Join(dir, "shop-api.inventory.yaml")
	for _, f := range []string{plan, inv, filepath.Join(dir, "shop-api.rehearsal.yaml")} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("CHANGE")) && !strings.HasSuffix(f, "rehearsal.yaml") {
			t.Errorf("%s has no CHANGE comment for the operator", f)
		}
		if bytes.Contains(b, []byte("[[")) {
			t.Errorf("%s keeps a template action:\n%s", f, b)
		}
	}
	if !strings.Contains(out.String(), "zdu validate "+plan+" -i "+inv) {
		t.Errorf("init does not say what to run next:\n%s", out.String())
	}

	out.Reset()
	errb.Reset()
	if code := dispatch(context.Background(), []string{"validate", plan, "-i", inv}, &out, &errb); code != 0 {
		t.Fatalf("validate: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if strings.Contains(out.String(), "warning") {
		t.Errorf("validate warns about the scaffold:\n%s", out.String())
	}
	out.Reset()
	if code := dispatch(context.Background(), []string{"plan", plan, "-i", inv}, &out, &errb); code != 0 {
		t.Fatalf("plan: exit %d\n%s%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"app-1", "app-3", `--only-upgrade '\''shop-api'\''`, `systemctl restart '\''shop-api'\''`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the dry run lacks %q:\n%s", want, out.String())
		}
	}

	r := rehearse(t, plan, "--nodes", "2", "--rate", "100")
	if r.code != 0 || r.sum.Status != "SUCCESS" {
		t.Fatalf("the scaffold does not rehearse green: %s", r)
	}
	if r.sum.Probe.Failed != 0 {
		t.Errorf("probe counted %d failed requests, want 0: %v", r.sum.Probe.Failed, r.sum.Probe.Failures)
	}
	for _, n := range []string{"node-1", "node-2"} {
		if r.versions[n] != "v2" {
			t.Errorf("node %s runs %q after the rehearsal, want v2 (%v)", n, r.versions[n], r.versions)
		}
	}
}

// TestInitRefuses: bad input is exit 2 and writes nothing; an existing file
// is never overwritten.
func TestInitRefuses(t *testing.T) {
	base := t.TempDir()
	run := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := dispatch(context.Background(), append([]string{"init"}, args...), &out, &out)
		return code, out.String()
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "expected one DIR"},
		{[]string{"--from", "apk", filepath.Join(base, "x")}, `did you mean "apt"`},
		{[]string{filepath.Join(base, "My App")}, "not a plan name"},
	} {
		if code, out := run(tc.args...); code != exitBadInput || !strings.Contains(out, tc.want) {
			t.Errorf("zdu init %q: exit %d, want 2 and %q:\n%s", tc.args, code, tc.want, out)
		}
	}
	if ents, _ := os.ReadDir(base); len(ents) != 0 {
		t.Errorf("a refused init left %d entries in %s", len(ents), base)
	}

	dir := filepath.Join(base, "app")
	os.MkdirAll(dir, 0o755)
	mine := filepath.Join(dir, "app.inventory.yaml")
	os.WriteFile(mine, []byte("mine\n"), 0o600)
	if code, out := run(dir); code != exitBadInput || !strings.Contains(out, mine+" exists already") {
		t.Errorf("init over an existing inventory: exit %d:\n%s", code, out)
	}
	if b, _ := os.ReadFile(mine); string(b) != "mine\n" {
		t.Errorf("the operator's file was changed: %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "app.yaml")); err == nil {
		t.Error("a refused init wrote the plan")
	}
	if code, out := run("--name", "other", dir); code != 0 {
		t.Errorf("init --name other beside it: exit %d\n%s", code, out)
	}
}
