package rundir

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/zdu-dev/zdu/engine/journal"
)

// The run record: what the run was started with, so that it can be
// resumed (and audited) from its directory alone.
const (
	RecordFile    = "run.json"
	PlanCopy      = "plan.yaml"
	InventoryCopy = "inventory.yaml"
)

// Record is run.json.
type Record struct {
	ID        string    `json:"id"`
	Zdu       string    `json:"zdu"`
	Host      string    `json:"host"`
	User      string    `json:"user"`
	PID       int       `json:"pid"`
	Started   time.Time `json:"started"`
	Plan      File      `json:"plan"`
	Inventory File      `json:"inventory"`
	// Loaded are the templates and imported plans the plan loaded, each
	// with its digest and its copy under loaded/; Library is the template
	// library the run looked in (zdu resume looks in the same).
	Loaded  []Loaded `json:"loaded,omitempty"`
	Library []string `json:"library,omitempty"`
	// Sets are the --set flags as given, but for secret params, which are
	// only in Secrets, as salted digests: a resumption asks for them again.
	Sets    []string          `json:"sets"`
	Secrets map[string]Digest `json:"secrets,omitempty"`
	// State is the state directory the run's locks are in.
	State string `json:"state"`
	// Params are the params' values as the run resolved them, secret ones
	// as "****": one value when every node has the same, else by node.
	Params map[string]any `json:"params,omitempty"`
	// Ended, Status and ExitCode are set when the process ends (a run
	// that was killed has none; its journal says how far it got).
	Ended    *time.Time `json:"ended,omitempty"`
	Status   string     `json:"status,omitempty"`
	ExitCode *int       `json:"exitCode,omitempty"`
	// Resumed lists when each resumption of the run began.
	Resumed []time.Time `json:"resumed,omitempty"`
	// NodeLogs maps each node of the inventory to its log, relative to
	// the run directory (see LogName).
	NodeLogs map[string]string `json:"nodeLogs,omitempty"`
}

// File is a file the run was started with: where it was, its digest (the
// copy in the run directory has the same).
type File struct {
	Path   string `json:"path"`
	Digest string `json:"digest"`
}

// Digest is a secret value stretched with PBKDF2-SHA256 and a salt of
// its own: enough to tell the value given again to a resumption, and slow
// to guess from a copied run.json.
type Digest struct {
	Salt       string `json:"salt"`
	Iterations int    `json:"iterations"`
	Sum        string `json:"sum"`
	// Env names the environment variable the value came from (a param's
	// env:), where a resumption reads it again.
	Env string `json:"env,omitempty"`
}

// digestIterations is OWASP's figure for PBKDF2-HMAC-SHA256 (2023).
const digestIterations = 600_000

// NewDigest digests a secret value with a fresh salt.
func NewDigest(value string) Digest {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	return Digest{Salt: hex.EncodeToString(salt), Iterations: digestIterations, Sum: stretch(salt, digestIterations, value)}
}

// Matches reports whether value is the secret digested.
func (d Digest) Matches(value string) bool {
	salt, err := hex.DecodeString(d.Salt)
	if err != nil || d.Iterations < 1 || d.Iterations > 10*digestIterations {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(stretch(salt, d.Iterations, value)), []byte(d.Sum)) == 1
}

func stretch(salt []byte, iterations int, value string) string {
	key, err := pbkdf2.Key(sha256.New, value, salt, iterations, 32)
	if err != nil {
		return ""
	}
	return hex.EncodeToString(key)
}

// FileDigest is "sha256:HEX" of data.
func FileDigest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// WriteRecord writes run.json and the copies of the plan and inventory,
// and of the files the plan loaded (under loaded/).
func (d *Dir) WriteRecord(rec Record, plan, inventory []byte, loaded ...LoadedFile) error {
	rec.Plan.Digest, rec.Inventory.Digest = FileDigest(plan), FileDigest(inventory)
	for name, data := range map[string][]byte{PlanCopy: plan, InventoryCopy: inventory} {
		if err := WriteFile(filepath.Join(d.Path, name), data); err != nil {
			return fmt.Errorf("copying the run's %s: %w", name, err)
		}
	}
	var err error
	if rec.Loaded, err = d.writeLoaded(loaded); err != nil {
		return fmt.Errorf("copying what the run's plan loaded: %w", err)
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return WriteFile(filepath.Join(d.Path, RecordFile), append(b, '\n'))
}

// Finish records in run.json how the process ended. A resumed run's
// record is finished again by each process.
func (d *Dir) Finish(status string, exitCode int, at time.Time) error {
	return d.updateRecord(func(rec *Record) {
		at := at.UTC()
		rec.Ended, rec.Status, rec.ExitCode = &at, status, &exitCode
	})
}

// MarkResumed records in run.json that a resumption began at at.
func (d *Dir) MarkResumed(at time.Time) error {
	return d.updateRecord(func(rec *Record) {
		rec.Resumed = append(rec.Resumed, at.UTC())
		rec.Ended, rec.Status, rec.ExitCode = nil, "", nil
	})
}

func (d *Dir) updateRecord(change func(*Record)) error {
	path := filepath.Join(d.Path, RecordFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	change(&rec)
	if b, err = json.MarshalIndent(rec, "", "  "); err != nil {
		return err
	}
	return WriteFile(path, append(b, '\n'))
}

// ParamValues is Record.Params from each node's param values: a value
// that is the same on every node once, else the values by node; a secret
// param's value as "****" (none at all when it has none).
func ParamValues(params []ParamInfo, byNode map[string]map[string]any) map[string]any {
	out := map[string]any{}
	for _, p := range params {
		var first any
		uniform, seen := true, false
		per := map[string]any{}
		for node, vals := range byNode {
			v, ok := vals[p.Name]
			if !ok || v == nil {
				continue
			}
			if p.Secret {
				v = "****"
			}
			per[node] = v
			if !seen {
				first, seen = v, true
			} else if fmt.Sprint(v) != fmt.Sprint(first) {
				uniform = false
			}
		}
		switch {
		case !seen:
		case uniform:
			out[p.Name] = first
		default:
			out[p.Name] = per
		}
	}
	return out
}

// ParamInfo is what ParamValues needs of a param.
type ParamInfo struct {
	Name   string
	Secret bool
}

// ReadRecord reads a run directory's record and its copies of the plan and
// inventory, checked against the record's digests.
func ReadRecord(path string) (rec Record, plan, inventory []byte, err error) {
	b, err := os.ReadFile(filepath.Join(path, RecordFile))
	if err != nil {
		return rec, nil, nil, fmt.Errorf("%s is not a run directory zdu can resume (no %s): %w", path, RecordFile, err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, nil, nil, fmt.Errorf("%s: %w", filepath.Join(path, RecordFile), err)
	}
	if plan, err = os.ReadFile(filepath.Join(path, PlanCopy)); err != nil {
		return rec, nil, nil, err
	}
	if inventory, err = os.ReadFile(filepath.Join(path, InventoryCopy)); err != nil {
		return rec, nil, nil, err
	}
	if FileDigest(plan) != rec.Plan.Digest || FileDigest(inventory) != rec.Inventory.Digest {
		return rec, nil, nil, fmt.Errorf("%s: the copies of the plan or inventory do not match %s", path, RecordFile)
	}
	return rec, plan, inventory, nil
}

// Open opens an existing run's directory to go on with it (a resumed
// run): the journal goes on from its last event, and the logs append. It
// also returns the events already in the journal.
func Open(path string, opt Options) (*Dir, []journal.Event, error) {
	d := &Dir{Path: path}
	var err error
	if d.Logs, err = newNodeLogs(filepath.Join(path, NodesDir), opt.Mask, os.O_CREATE); err != nil {
		return nil, nil, err
	}
	if d.runLog, err = os.OpenFile(filepath.Join(path, RunLogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND|syscall.O_NOFOLLOW, 0o600); err != nil {
		d.Logs.Close()
		return nil, nil, err
	}
	d.runLogW = opt.Mask.Writer(d.runLog)
	sinks := append([]journal.Sink{d.Logs, NewLogSink(d.runLogW, true, false, zerolog.DebugLevel)}, opt.Sinks...)
	j, events, err := journal.Open(filepath.Join(path, JournalFile), opt.ID, opt.Mask, sinks...)
	if err != nil {
		d.Logs.Close()
		d.runLog.Close()
		return nil, nil, err
	}
	d.Journal = j
	return d, events, nil
}
