package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoTestHelperInTheBinary: test helpers (lbtest, sshtest, steptest,
// enginetest ...) are for tests only; none may be linked into zdu, whatever
// imports what.
func TestNoTestHelperInTheBinary(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool to list the binary's packages: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	pkgs := strings.Fields(string(out))
	if len(pkgs) < 10 {
		t.Fatalf("go list -deps listed only %v", pkgs)
	}
	for _, p := range pkgs {
		for _, elem := range strings.Split(p, "/") {
			if strings.HasSuffix(elem, "test") {
				t.Errorf("zdu links %s, a test helper package: move what production code needs out of it", p)
			}
		}
	}
	// Fault injection is only in a binary built with -tags zdufaults.
	files, err := exec.Command(goTool, "list", "-f", "{{range .GoFiles}}{{.}} {{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if strings.Contains(string(files), "faults_zdufaults.go") {
		t.Errorf("a release build compiles the fault injection: %s", files)
	}
}
