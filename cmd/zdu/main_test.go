package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// testDir holds what the tests of this package share: their state
// directory (so in-process runs neither read nor leave locks and run
// records in the user's) and the zdu binary some tests run as a process.
var testDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "zdu-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testDir = dir
	os.Setenv("ZDU_STATE", filepath.Join(dir, "state"))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// zduBinary builds zdu once for the tests that need a real process (a
// closed pipe, SIGHUP, SIGKILL), with the crash tests' fault injection
// (-tags zdufaults, see faults_zdufaults.go).
func zduBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binPath = filepath.Join(testDir, "zdu")
		out, err := exec.Command("go", "build", "-tags", "zdufaults", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}
