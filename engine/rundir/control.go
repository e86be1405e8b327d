package rundir

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// ControlDir is where an operator's decisions for a running run are left
// (zdu approve, zdu abort): one file per decision.
const ControlDir = "control"

// Decision is what zdu approve or zdu abort leaves for a run.
type Decision struct {
	Decision string    `json:"decision"` // approve or abort
	By       string    `json:"by"`       // user@host (pid N)
	At       time.Time `json:"at"`
}

// maxDecision bounds a decision file: a line of JSON.
const maxDecision = 4 << 10

// Control reads the decisions left in a run directory.
type Control struct{ Dir string }

// NewControl reads dir's decisions.
func NewControl(dir string) *Control { return &Control{Dir: dir} }

func (c *Control) path(d string) string { return filepath.Join(c.Dir, ControlDir, d) }

// Clear removes decisions left before now: an approval is for the pause
// that waits for it, not for one to come.
func (c *Control) Clear() error {
	for _, d := range []string{"approve", "abort"} {
		if err := os.Remove(c.path(d)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Decision is the decision left (abort first), and who made it.
func (c *Control) Decision() (string, string) {
	for _, d := range []string{"abort", "approve"} {
		f, err := os.OpenFile(c.path(d), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
		if err != nil {
			continue
		}
		b := make([]byte, maxDecision)
		n, _ := f.Read(b)
		f.Close()
		var dec Decision
		if json.Unmarshal(b[:n], &dec) != nil || dec.Decision != d {
			continue // half written, or not ours: not a decision
		}
		return d, dec.By
	}
	return "", ""
}

// Decide leaves decision d for the run in dir.
func Decide(dir string, d Decision) error {
	cd := filepath.Join(dir, ControlDir)
	if err := os.Mkdir(cd, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	// Written whole under another name, then renamed: the run never reads
	// half a decision.
	tmp := filepath.Join(cd, fmt.Sprintf(".%s.%d", d.Decision, os.Getpid()))
	if err := WriteFile(tmp, b); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(cd, d.Decision))
}
