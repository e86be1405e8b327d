package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// expandedID is a dry run's line of a step expanded from a template: its id
// (USE.STEP, or USE.INNER.STEP) and, at the end, its origin.
var (
	expandedID = regexp.MustCompile(`(?m)^(    - )[A-Za-z0-9_-]+\.(?:[A-Za-z0-9_.-]+\.)?([A-Za-z0-9_-]+ )`)
	originTail = regexp.MustCompile(`(?m) from [^ \n]+:[0-9]+(:|$)`)
)

// withoutOrigins turns a dry run of a plan written on the library into what
// the same plan written out step by step prints: each expanded step's id is
// the step's id inside its template, and there is no origin.
func withoutOrigins(s string) string {
	s = expandedID.ReplaceAllString(s, "$1$2")
	return originTail.ReplaceAllString(s, "$1")
}

// TestLibraryRewritesDryRunAlike: the shipped plans, written on the template
// library, dry-run byte for byte as they did with every step written out
// (testdata/library/*.written.yaml), apart from the expanded steps' ids
// (USE.STEP) and origins.
func TestLibraryRewritesDryRunAlike(t *testing.T) {
	axwaySets := []string{"--set", "old_install_dir=/opt/Axway 7.5.3", "--set", "new_install_dir=/opt/Axway-7.7", "--set", "cass_host=cassandra.example"}
	for _, tc := range []struct {
		name string
		sets []string
	}{{"nova-api", nil}, {"axway-7.7", axwaySets}} {
		t.Run(tc.name, func(t *testing.T) {
			inv := filepath.Join("..", "..", "plans", tc.name+".inventory.yaml")
			dry := func(plan string) string {
				var out, errb bytes.Buffer
				args := append([]string{"plan", plan, "-i", inv}, tc.sets...)
				if code := dispatch(context.Background(), args, &out, &errb); code != 0 {
					t.Fatalf("zdu plan %s: exit %d: %s%s", plan, code, out.String(), errb.String())
				}
				return out.String()
			}
			written := dry(filepath.Join("testdata", "library", tc.name+".written.yaml"))
			onLibrary := dry(filepath.Join("..", "..", "plans", tc.name+".yaml"))
			if !strings.Contains(onLibrary, " from ") || !strings.Contains(onLibrary, "lib/lb-enable.yaml:") {
				t.Fatalf("the library's plan shows no origins:\n%s", onLibrary)
			}
			if got := withoutOrigins(onLibrary); got != written {
				t.Errorf("dry runs differ beyond ids and origins:\n--- written out\n%s\n--- on the library (normalized)\n%s", written, got)
			}
		})
	}
}

// TestKeycloakPlan: the third shipped plan, built from the library,
// validates, dry-runs and draws; its steps say where they come from.
func TestKeycloakPlan(t *testing.T) {
	plan := filepath.Join("..", "..", "plans", "keycloak.yaml")
	inv := filepath.Join("..", "..", "plans", "keycloak.inventory.yaml")
	run := func(args ...string) string {
		var out, errb bytes.Buffer
		if code := dispatch(context.Background(), args, &out, &errb); code != 0 {
			t.Fatalf("zdu %s: exit %d: %s%s", strings.Join(args, " "), code, out.String(), errb.String())
		}
		return out.String()
	}
	if out := run("validate", plan, "-i", inv); !strings.Contains(out, "valid") {
		t.Errorf("validate: %s", out)
	}
	dry := run("plan", plan, "-i", inv)
	for _, want := range []string{
		"- preflight.disk (ssh-exec) from ../../plans/lib/preflight.yaml:",
		"- drain.drain (lb-drain) from ../../plans/lib/lb-drain.yaml:",
		"wait 30s (drainTime",
		"exec on kc-2: rpm -q --qf '%{VERSION}-%{RELEASE}' 'keycloak'",
		"- restart.active (ssh-exec) [retries 30] from ../../plans/lib/systemd-restart.yaml:",
		"wait until GET http://192.0.2.23:9000/health/ready",
		"rollback downgrade (shown for node kc-1",
		"- package.downgrade (ssh-exec) from ../../plans/lib/dnf-downgrade.yaml:",
		"dnf -y downgrade ",
	} {
		if !strings.Contains(dry, want) {
			t.Errorf("zdu plan lacks %q:\n%s", want, dry)
		}
	}
	for _, format := range []string{"dot", "mermaid"} {
		if g := run("graph", plan, "-i", inv, "--format", format); !strings.Contains(g, "enable.health (wait-http) from ../../plans/lib/lb-enable.yaml:") {
			t.Errorf("zdu graph --format %s lacks the template's origin:\n%s", format, g)
		}
	}
	// Folded, each use is one vertex named after its template, and no
	// step of a template is drawn.
	folded := run("graph", plan, "-i", inv, "--format", "mermaid", "--fold")
	for _, want := range []string{`["drain (uses lib/lb-drain.yaml, 1 step)"]`, `["enable (uses lib/lb-enable.yaml, 2 steps)"]`, `["restart (uses lib/systemd-restart.yaml, 2 steps)"]`} {
		if !strings.Contains(folded, want) {
			t.Errorf("zdu graph --fold lacks %s:\n%s", want, folded)
		}
	}
	if strings.Contains(folded, " from ../../plans/lib/") {
		t.Errorf("zdu graph --fold draws a template's step:\n%s", folded)
	}
	if unfolded := run("graph", plan, "-i", inv, "--format", "mermaid"); strings.Count(folded, "\n") >= strings.Count(unfolded, "\n") {
		t.Errorf("zdu graph --fold is no smaller than the graph")
	}
}

// linkLibrary makes plans/lib found beside a copy of a shipped plan in dir.
func linkLibrary(t *testing.T, dir string) {
	t.Helper()
	lib, err := filepath.Abs(filepath.Join("..", "..", "plans", "lib"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(lib, filepath.Join(dir, "lib")); err != nil {
		t.Fatal(err)
	}
}

// TestLibraryFromEnvironment: a plan away from plans/ finds lib/ through
// ZDU_LIBRARY; without it, validate names the template it cannot find.
func TestLibraryFromEnvironment(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "plans", "keycloak.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	plan := filepath.Join(t.TempDir(), "keycloak.yaml")
	if err := os.WriteFile(plan, b, 0o600); err != nil {
		t.Fatal(err)
	}
	validate := func() (int, string) {
		var out, errb bytes.Buffer
		code := dispatch(context.Background(), []string{"validate", plan}, &out, &errb)
		return code, out.String() + errb.String()
	}
	t.Setenv("ZDU_LIBRARY", "")
	if _, err := os.Stat(installedLibrary); err == nil {
		t.Logf("%s exists (the zdu package is installed): the plan finds lib/ there; not checking the error without a library", installedLibrary)
	} else if code, out := validate(); code != exitBadInput || !strings.Contains(out, `template "lib/preflight.yaml" not found beside `+plan) {
		t.Errorf("without a library: exit %d:\n%s", code, out)
	}
	t.Setenv("ZDU_LIBRARY", filepath.Join(t.TempDir(), "empty")+string(os.PathListSeparator)+filepath.Join("..", "..", "plans"))
	if code, out := validate(); code != 0 {
		t.Errorf("with ZDU_LIBRARY: exit %d:\n%s", code, out)
	}
}
