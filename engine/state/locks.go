package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// lockFile is what a node's lock file holds.
type lockFile struct {
	Run      string    `json:"run"`
	Node     string    `json:"node"`
	Endpoint string    `json:"endpoint"`
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	User     string    `json:"user"`
	Since    time.Time `json:"since"`
}

// HeldError refuses a lock: nodes are held by another run.
type HeldError struct {
	Holder Run
	Nodes  []string
	// Alive: the holder's process still runs (or cannot be checked from
	// here). A dead holder that did not finish must be resumed or unlocked.
	Alive bool
}

func (e *HeldError) Error() string {
	h := e.Holder
	who := fmt.Sprintf("run %s (pid %d on %s, user %s, started %s)", h.ID, h.PID, h.Host, h.User, h.Started.Format(time.RFC3339))
	nodes := strings.Join(e.Nodes, ", ")
	if e.Alive {
		return fmt.Sprintf("%s held by %s, which is still running", nodes, who)
	}
	return fmt.Sprintf("%s held by %s, which stopped without finishing (its nodes may be out of service): "+
		"resume it (zdu resume %s) or, once its nodes are checked, release them (zdu abandon %s, or zdu unlock %s)", nodes, who, h.ID, h.ID, h.ID)
}

// Held is a run's hold on its nodes; Release gives them back.
type Held struct {
	d     *Dir
	run   Run
	keys  []string
	alive *os.File // flock held for the life of the run
}

// Lock records run and locks its nodes for it, or refuses naming the run
// holding any of them. A run may take over its own locks (a resumption).
func (d *Dir) Lock(run Run, nodes []Node) (_ Hold, err error) {
	unlock, err := d.exclusive()
	if err != nil {
		return nil, err
	}
	defer unlock()
	held := map[string][]string{} // holder run -> nodes
	for _, n := range nodes {
		lf, ok, err := d.readLock(n.key())
		if err != nil {
			return nil, err
		}
		if ok && lf.Run != run.ID {
			if !d.alive(lf.Run, lf.Host) && d.finished(lf.Run) {
				continue // left by a run that ended: nothing to protect
			}
			held[lf.Run] = append(held[lf.Run], n.Name)
		}
	}
	if len(held) > 0 {
		return nil, d.heldError(held)
	}
	h := &Held{d: d, run: run}
	if h.alive, err = d.holdAlive(run.ID); errors.Is(err, syscall.EWOULDBLOCK) {
		// The run itself still runs in another process (resumed twice).
		holder, rerr := d.Run(run.ID)
		if rerr != nil {
			holder = run
		}
		names := make([]string, len(nodes))
		for i, n := range nodes {
			names[i] = n.Name
		}
		return nil, &HeldError{Holder: holder, Nodes: names, Alive: true}
	}
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			h.alive.Close()
		}
	}()
	if err := d.saveRun(run); err != nil {
		return nil, err
	}
	for _, n := range nodes {
		lf := lockFile{Run: run.ID, Node: n.Name, Endpoint: n.Endpoint, Host: run.Host, PID: run.PID, User: run.User, Since: time.Now().UTC()}
		if err := writeJSON(d.lockPath(n.key()), lf); err != nil {
			return nil, err
		}
		h.keys = append(h.keys, n.key())
	}
	return h, nil
}

// heldError names the first holder (in id order) and its nodes.
func (d *Dir) heldError(held map[string][]string) error {
	return FirstHolder(held, d.Run, func(run Run) bool { return d.alive(run.ID, run.Host) })
}

// FirstHolder is the HeldError of a refused lock: held maps each holding
// run's id to the nodes it holds; the first holder in id order is named,
// as far as lookup finds its record (else by id alone), alive or not.
func FirstHolder(held map[string][]string, lookup func(id string) (Run, error), alive func(Run) bool) error {
	ids := make([]string, 0, len(held))
	for id := range held {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	run, err := lookup(ids[0])
	if err != nil {
		run = Run{ID: ids[0]}
	}
	return &HeldError{Holder: run, Nodes: held[ids[0]], Alive: alive(run)}
}

// Release gives the nodes back and records how the run ended.
func (h *Held) Release(status string, exitCode int) error {
	unlock, err := h.d.exclusive()
	if err != nil {
		return err
	}
	defer unlock()
	var errs []error
	for _, k := range h.keys {
		if lf, ok, _ := h.d.readLock(k); ok && lf.Run == h.run.ID {
			if err := os.Remove(h.d.lockPath(k)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	run, err := h.d.Run(h.run.ID)
	if err != nil {
		run = h.run
	}
	now := time.Now().UTC()
	run.Ended, run.Status, run.ExitCode = &now, status, &exitCode
	errs = append(errs, h.d.saveRun(run), h.alive.Close())
	return errors.Join(errs...)
}

// Unlock releases the locks of a run that is not running any more, and
// records who did it. It refuses while the run's process is alive.
func (d *Dir) Unlock(id string) (released []string, err error) {
	unlock, err := d.exclusive()
	if err != nil {
		return nil, err
	}
	defer unlock()
	run, err := d.Run(id)
	if err != nil {
		return nil, err
	}
	if d.alive(id, run.Host) {
		return nil, fmt.Errorf("run %s is still running (pid %d on %s): stop it first", id, run.PID, run.Host)
	}
	entries, err := os.ReadDir(filepath.Join(d.path, "locks"))
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		k := strings.TrimSuffix(e.Name(), ".json")
		if lf, ok, _ := d.readLock(k); ok && lf.Run == id {
			if err := os.Remove(d.lockPath(k)); err != nil {
				return released, err
			}
			released = append(released, lf.Node)
		}
	}
	who := Me()
	run.Unlocked = &who
	return released, d.saveRun(run)
}

// Locks lists the locked nodes, by the id of the run holding them.
func (d *Dir) Locks() (map[string][]string, error) {
	entries, err := os.ReadDir(filepath.Join(d.path, "locks"))
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, e := range entries {
		if lf, ok, _ := d.readLock(strings.TrimSuffix(e.Name(), ".json")); ok {
			out[lf.Run] = append(out[lf.Run], lf.Node)
		}
	}
	return out, nil
}

func (d *Dir) holdAlive(id string) (*os.File, error) {
	f, err := os.OpenFile(d.alivePath(id), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("run %s: %w", id, err)
	}
	return f, nil
}

// exclusive serializes lock changes within the state directory.
func (d *Dir) exclusive() (func(), error) {
	f, err := os.OpenFile(filepath.Join(d.path, "state.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

func (d *Dir) readLock(key string) (lockFile, bool, error) {
	var lf lockFile
	b, err := os.ReadFile(d.lockPath(key))
	if errors.Is(err, os.ErrNotExist) {
		return lf, false, nil
	}
	if err != nil {
		return lf, false, err
	}
	if err := json.Unmarshal(b, &lf); err != nil {
		return lf, false, fmt.Errorf("%s: %w", d.lockPath(key), err)
	}
	return lf, true, nil
}

func (d *Dir) lockPath(key string) string { return filepath.Join(d.path, "locks", key+".json") }
