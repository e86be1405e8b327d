package main

import (
	"fmt"
	"os"
	"testing"
)

// TestMain gives the in-process runs of these tests a state directory of
// their own, so they neither read nor leave locks and run records in the
// user's.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "zdu-cmd-state-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("ZDU_STATE", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
