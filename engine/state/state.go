// Package state is what outlives one zdu process on a control host: which
// run holds which nodes, and a record of every run (where its directory is,
// who started it, how it ended). It lives in a directory: by default
// $ZDU_STATE, else $XDG_STATE_HOME/zdu, else ~/.local/state/zdu.
//
// A run locks the nodes it targets before it touches any, and releases
// them however it ends. While it runs it holds an flock on runs/ID.alive,
// so another process can tell a running holder from one that died: a lock
// left by a dead run that did not finish is refused until the run is
// resumed (which takes its locks over) or unlocked by an operator (zdu
// unlock, which records who).
package state

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// DefaultDir is the state directory when none is given.
func DefaultDir() string {
	if d := os.Getenv("ZDU_STATE"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "zdu")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "zdu")
	}
	return filepath.Join(os.TempDir(), "zdu-state")
}

// Run is the record of one run.
type Run struct {
	ID      string    `json:"id"`
	Plan    string    `json:"plan"`
	RunDir  string    `json:"runDir"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	User    string    `json:"user"`
	Started time.Time `json:"started"`
	Nodes   []string  `json:"nodes"`
	// Ended, Status and ExitCode are set when the run ends (not by a crash).
	Ended    *time.Time `json:"ended,omitempty"`
	Status   string     `json:"status,omitempty"`
	ExitCode *int       `json:"exitCode,omitempty"`
	// Resumed records each resumption (by whom, when).
	Resumed []Who `json:"resumed,omitempty"`
	// Unlocked records who released its locks while it was unfinished.
	Unlocked *Who `json:"unlocked,omitempty"`
}

// Who is an operator's act on a run.
type Who struct {
	User string    `json:"user"`
	Host string    `json:"host"`
	PID  int       `json:"pid"`
	At   time.Time `json:"at"`
}

// Me is the current process, as a Who.
func Me() Who {
	return Who{User: currentUser(), Host: hostname(), PID: os.Getpid(), At: time.Now().UTC()}
}

// NewRun describes a run about to start in this process.
func NewRun(id, plan, runDir string, nodes []Node) Run {
	me := Me()
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	abs, err := filepath.Abs(runDir)
	if err != nil {
		abs = runDir
	}
	return Run{ID: id, Plan: plan, RunDir: abs, Host: me.Host, PID: me.PID, User: me.User, Started: me.At, Nodes: names}
}

// Node is a node a run locks: its inventory name, and where it really is
// (user@host:port for SSH, local:NAME for this machine), which is what two
// inventories naming one machine differently share.
type Node struct {
	Name, Endpoint string
}

// Key is the node's lock's name: a digest of its endpoint and its name.
func (n Node) Key() string { return n.key() }

func (n Node) key() string {
	sum := sha256.Sum256([]byte(n.Endpoint))
	return hex.EncodeToString(sum[:8]) + "-" + safe(n.Name)
}

// Dir is a state directory.
type Dir struct{ path string }

// Open opens (creating) a state directory, readable by its owner only.
func Open(path string) (*Dir, error) {
	for _, d := range []string{path, filepath.Join(path, "locks"), filepath.Join(path, "runs")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("state directory %s: %w", path, err)
		}
	}
	return &Dir{path: path}, nil
}

// Path is the directory.
func (d *Dir) Path() string { return d.path }

// String is the directory, for messages.
func (d *Dir) String() string { return d.path }

// Close does nothing: a state directory holds nothing open between calls.
func (d *Dir) Close() error { return nil }

// Resumed records that run is resumed by this process, and holds it alive.
func (d *Dir) Resumed(run *Run) {
	run.Resumed = append(run.Resumed, Me())
	run.Host, run.PID, run.User = hostname(), os.Getpid(), currentUser()
	run.Ended, run.Status, run.ExitCode = nil, "", nil
}

// Run reads a run's record.
func (d *Dir) Run(id string) (Run, error) {
	var r Run
	b, err := os.ReadFile(d.runPath(id))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return r, NoRunError(fmt.Sprintf("no run %s in the state directory %s", id, d.path))
		}
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: %w", d.runPath(id), err)
	}
	return r, nil
}

// Runs lists every recorded run, newest first.
func (d *Dir) Runs() ([]Run, error) {
	entries, err := os.ReadDir(filepath.Join(d.path, "runs"))
	if err != nil {
		return nil, err
	}
	var out []Run
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		if r, err := d.Run(id); err == nil {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.After(out[j].Started) })
	return out, nil
}

// Alive reports whether run's process still runs (always true for a run on
// another host: that cannot be checked from here).
func (d *Dir) Alive(run Run) bool { return d.alive(run.ID, run.Host) }

func (d *Dir) finished(id string) bool {
	r, err := d.Run(id)
	return err == nil && r.Ended != nil
}

// alive: another open file description holds the run's flock.
func (d *Dir) alive(id, host string) bool {
	if host != "" && host != hostname() {
		return true
	}
	f, err := os.OpenFile(d.alivePath(id), os.O_RDONLY, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return true
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}

func (d *Dir) saveRun(r Run) error { return writeJSON(d.runPath(r.ID), r) }

func (d *Dir) runPath(id string) string   { return filepath.Join(d.path, "runs", safe(id)+".json") }
func (d *Dir) alivePath(id string) string { return filepath.Join(d.path, "runs", safe(id)+".alive") }

// writeJSON replaces path atomically (write, sync, rename).
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// safe makes a name usable in a file name.
func safe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || r == ' ' {
			return '_'
		}
		return r
	}, s)
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return fmt.Sprint(os.Getuid())
}
