// Package rundir is a run's directory: its layout, the journal and the
// sinks every event goes to (node logs, run.log, the console), and the
// summary derived from the journal at the end. `zdu run`, `zdu rehearse`
// and the engine's tests all set a run up through it.
package rundir

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/mask"
	"github.com/zdu-dev/zdu/engine/summary"
)

// The files of a run directory.
const (
	JournalFile = "journal.jsonl" // every event, one JSON object a line
	RunLogFile  = "run.log"       // the events as readable log lines
	NodesDir    = "nodes"         // NODE.log: each step framed, with its commands and output
	SummaryText = "summary.txt"   // the summary table
	SummaryJSON = "summary.json"  // the same as data
	ProbeSeries = "probe.jsonl"   // the availability probe's figures, second by second
	ReportHTML  = "report.html"   // zdu report's default output
)

// DefaultParent is where runs go without --run-dir.
const DefaultParent = "zdu-runs"

// NewID names a run: its UTC start time, the plan, and a random suffix.
func NewID(plan string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return time.Now().UTC().Format("20060102T150405Z") + "-" + plan + "-" + hex.EncodeToString(b)
}

// Options set up a run directory.
type Options struct {
	// ID is the run's id, in every journal event.
	ID string
	// Mask hides secrets in every file (nil: nothing to hide).
	Mask *mask.Masker
	// Sinks also receive every event once it is on disk: the console log,
	// a test's collector.
	Sinks []journal.Sink
}

// Dir is an open run directory.
type Dir struct {
	Path    string
	Journal *journal.Journal
	Logs    *NodeLogs
	runLog  *os.File
	runLogW *mask.Writer
}

// Create makes path a new run's directory, refusing one that holds files
// already (an earlier run's), and opens its journal with the node logs,
// run.log and opt.Sinks. The directory is its owner's only (0700), every
// file in it 0600, and no file is opened through a symlink: a file planted
// there in advance makes Create fail instead of being written through.
func Create(path string, opt Options) (*Dir, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		if !os.IsExist(err) {
			return nil, err
		}
		ents, rerr := os.ReadDir(path)
		if rerr != nil {
			return nil, rerr
		}
		if len(ents) > 0 {
			names := make([]string, 0, 3)
			for _, e := range ents[:min(3, len(ents))] {
				names = append(names, e.Name())
			}
			return nil, fmt.Errorf("%s is not empty (it holds %s): a run directory must be new; choose another", path, strings.Join(names, ", "))
		}
	}
	d := &Dir{Path: path}
	var err error
	if d.Logs, err = NewNodeLogs(filepath.Join(path, NodesDir), opt.Mask); err != nil {
		return nil, err
	}
	if d.runLog, err = os.OpenFile(filepath.Join(path, RunLogFile), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND|syscall.O_NOFOLLOW, 0o600); err != nil {
		d.Logs.Close()
		return nil, err
	}
	d.runLogW = opt.Mask.Writer(d.runLog)
	sinks := append([]journal.Sink{d.Logs, NewLogSink(d.runLogW, true, false, zerolog.DebugLevel)}, opt.Sinks...)
	if d.Journal, err = journal.Create(filepath.Join(path, JournalFile), opt.ID, opt.Mask, sinks...); err != nil {
		d.Logs.Close()
		d.runLog.Close()
		return nil, err
	}
	return d, nil
}

// WriteFile writes a file of a run directory, 0600, replacing what was
// there but never writing through a symlink.
func WriteFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return errors.Join(err, f.Close())
}

// AppendFile opens a file of a run directory to append to (created 0600
// if missing), never through a symlink.
func AppendFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|syscall.O_NOFOLLOW, 0o600)
}

// Close closes the journal (syncing it) and the logs.
func (d *Dir) Close() error {
	return errors.Join(d.Journal.Close(), d.Logs.Close(), d.runLogW.Flush(), d.runLog.Close())
}

// Summary derives the summary from the journal on disk.
func (d *Dir) Summary() (*summary.Summary, error) {
	return ReadSummary(d.Path)
}

// ReadSummary derives a run directory's summary from its journal.
func ReadSummary(path string) (*summary.Summary, error) {
	f, err := os.Open(filepath.Join(path, JournalFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	events, err := journal.Read(f)
	if err != nil {
		return nil, err
	}
	return summary.FromEvents(events), nil
}

// WriteSummary writes summary.txt and summary.json from the journal on
// disk, and the table to w.
func (d *Dir) WriteSummary(w io.Writer) error {
	s, err := d.Summary()
	if err != nil {
		return err
	}
	table := s.Table()
	if err := WriteFile(filepath.Join(d.Path, SummaryText), []byte(table)); err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := WriteFile(filepath.Join(d.Path, SummaryJSON), append(b, '\n')); err != nil {
		return err
	}
	_, err = io.WriteString(w, table)
	return err
}
