package main

import (
	"bytes"
	"context"
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

// TestLibraryRewritesDryRunAlike: the shipped plans written on the template
// library (testdata/library, found through ZDU_LIBRARY) dry-run byte for
// byte as the plans written out, apart from the expanded steps' ids
// (USE.STEP) and origins.
func TestLibraryRewritesDryRunAlike(t *testing.T) {
	t.Setenv("ZDU_LIBRARY", filepath.Join("..", "..", "plans"))
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
			written := dry(filepath.Join("..", "..", "plans", tc.name+".yaml"))
			onLibrary := dry(filepath.Join("testdata", "library", tc.name+".yaml"))
			if !strings.Contains(onLibrary, " from ") || !strings.Contains(onLibrary, "lib/lb-enable.yaml:") {
				t.Fatalf("the library's plan shows no origins:\n%s", onLibrary)
			}
			if got := withoutOrigins(onLibrary); got != written {
				t.Errorf("dry runs differ beyond ids and origins:\n--- written out\n%s\n--- on the library (normalized)\n%s", written, got)
			}
		})
	}
}
