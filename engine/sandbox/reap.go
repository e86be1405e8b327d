package sandbox

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ownerFile, in a sandbox's directory, is locked (flock) by the process
// that owns the sandbox for as long as it runs.
const ownerFile = "owner"

// holdOwner marks dir as owned by this process until the file is closed.
func holdOwner(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, ownerFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("sandbox %s is owned by another process", dir)
	}
	fmt.Fprintf(f, "%d\n", os.Getpid())
	return f, nil
}

// ReapStale removes the sandboxes left by rehearsals that were killed
// (SIGKILL, a crash: nothing ran their teardown): their processes (HAProxy,
// stand-in daemons, anything started from them) are killed and their
// directories, private key included, removed. A sandbox whose owner still
// runs is left alone. It returns the directories it removed.
func ReapStale() ([]string, error) {
	dirs, err := filepath.Glob(filepath.Join(os.TempDir(), "zdu-sandbox-*"))
	if err != nil {
		return nil, err
	}
	var reaped []string
	for _, dir := range dirs {
		if !ownerGone(dir) {
			continue
		}
		killFrom(dir)
		if err := os.RemoveAll(dir); err != nil {
			return reaped, fmt.Errorf("removing the stale sandbox %s: %w", dir, err)
		}
		reaped = append(reaped, dir)
	}
	return reaped, nil
}

// Owned reports whether a process owns the sandbox in dir (it runs).
func Owned(dir string) bool {
	f, err := os.OpenFile(filepath.Join(dir, ownerFile), os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return true
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}

// Reap removes the sandbox in dir, whose owner is gone: the processes it
// left are killed, the directory removed.
func Reap(dir string) error {
	if Owned(dir) {
		return fmt.Errorf("the sandbox in %s still runs", dir)
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	killFrom(dir)
	return os.RemoveAll(dir)
}

// ownerGone: the sandbox's owner file exists and nobody holds it.
func ownerGone(dir string) bool {
	f, err := os.OpenFile(filepath.Join(dir, ownerFile), os.O_RDWR, 0)
	if err != nil {
		return false // not ours to judge: being built, or not a sandbox
	}
	defer f.Close()
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return false
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return true
}

// killFrom kills every process whose command line, or working directory,
// is inside dir, and the daemons whose pid files are there.
func killFrom(dir string) {
	self := os.Getpid()
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		pid, err := strconv.Atoi(filepath.Base(p))
		if err != nil || pid == self {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join(p, "cmdline"))
		cwd, _ := os.Readlink(filepath.Join(p, "cwd"))
		if mentions(cmd, dir) || cwd == dir || strings.HasPrefix(cwd, dir+"/") {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// mentions reports whether a NUL-separated command line names dir or a
// path inside it (and not merely a longer name that starts like it).
func mentions(cmdline []byte, dir string) bool {
	for _, arg := range bytes.Split(cmdline, []byte{0}) {
		for _, f := range bytes.Fields(arg) {
			if string(f) == dir || bytes.HasPrefix(f, []byte(dir+"/")) {
				return true
			}
		}
	}
	return false
}
