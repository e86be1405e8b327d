package rundir

import (
	"container/list"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/mask"
)

// NodeLogs writes one log file per node under dir, in the seed's framed
// style: each step between `########## NAME ##########` lines, with the
// step's own output (commands, their output, exit codes) inside. A node's
// log shows the phases it entered, not the steps of phases it never
// reached.
//
// At most maxOpenLogs log files are open at once, the least recently
// written closed first and opened again (appended to) when its node writes
// again: a run of 20,000 nodes does not hold 20,000 files open.
type NodeLogs struct {
	dir  string
	mask *mask.Masker
	// flags open a node's log: a new run's must not exist (nor be a
	// symlink planted there), a resumed run's is appended to.
	flags int
	mu    sync.Mutex
	w     map[string]*mask.Writer
	// files maps each log file's name to its node.
	files map[string]string
	// entered holds "phase\x00node" for every node a phase started on.
	entered map[string]bool
	err     error     // the first failure to open or write a log
	open    list.List // of *logFile with a file open, least recently written first
}

// maxOpenLogs bounds the node log files open at once (a variable for tests).
var maxOpenLogs = 256

// NewNodeLogs writes node logs into dir (created if needed). An empty dir
// discards the logs (dry runs, tests).
func NewNodeLogs(dir string, m *mask.Masker) (*NodeLogs, error) {
	return newNodeLogs(dir, m, os.O_CREATE|os.O_EXCL)
}

func newNodeLogs(dir string, m *mask.Masker, flags int) (*NodeLogs, error) {
	if dir != "" {
		if err := os.Mkdir(dir, 0o700); err != nil && !(os.IsExist(err) && flags&os.O_EXCL == 0) {
			return nil, fmt.Errorf("creating node log dir: %w", err)
		}
	}
	return &NodeLogs{dir: dir, mask: m, flags: flags, w: map[string]*mask.Writer{}, files: map[string]string{}, entered: map[string]bool{}}, nil
}

// Writer returns the node's log writer.
func (l *NodeLogs) Writer(node string) io.Writer {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w, ok := l.w[node]; ok {
		return w
	}
	var out io.Writer = io.Discard
	if l.dir != "" {
		name := LogName(node)
		if other, taken := l.files[name]; taken {
			// Two names with one SHA-256 prefix: never written together.
			l.fail(fmt.Errorf("node %s's log: %s is node %s's log already", node, name, other))
		} else if f, err := os.OpenFile(filepath.Join(l.dir, name), l.flags|os.O_WRONLY|os.O_APPEND|syscall.O_NOFOLLOW, 0o600); err != nil {
			l.fail(fmt.Errorf("node %s's log: %w", node, err))
		} else {
			l.files[name] = node
			lf := &logFile{f: f, l: l, node: node, path: f.Name()}
			l.opened(lf)
			out = lf
		}
	}
	w := l.mask.Writer(out)
	l.w[node] = w
	return w
}

// fail records the first failure. Called with mu held.
func (l *NodeLogs) fail(err error) {
	if l.err == nil {
		l.err = err
	}
}

// Err is the first failure to open or write a node's log: the log is
// incomplete from there on.
func (l *NodeLogs) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// logFile is a node's log file; a failed write is recorded once. Its file
// may be closed to bound the files open (NodeLogs.open) and is then opened
// again on the next write. Its fields are under l.mu: writes to node logs
// are short appends, done one at a time.
type logFile struct {
	l    *NodeLogs
	node string
	path string
	f    *os.File      // nil while closed
	at   *list.Element // in l.open while f is open
	done bool          // closed for good (Close)
}

func (f *logFile) Write(p []byte) (int, error) {
	l := f.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if f.f == nil {
		if f.done {
			return 0, os.ErrClosed
		}
		of, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|syscall.O_NOFOLLOW, 0)
		if err != nil {
			l.fail(fmt.Errorf("node %s's log: %w", f.node, err))
			return 0, err
		}
		f.f = of
		l.opened(f)
	} else {
		l.open.MoveToBack(f.at)
	}
	n, err := f.f.Write(p)
	if err != nil {
		l.fail(fmt.Errorf("writing node %s's log: %w", f.node, err))
	}
	return n, err
}

// opened counts f's file as open, closing the least recently written
// ones over maxOpenLogs. Called with mu held.
func (l *NodeLogs) opened(f *logFile) {
	f.at = l.open.PushBack(f)
	for l.open.Len() > maxOpenLogs {
		l.shut(l.open.Front().Value.(*logFile))
	}
}

// shut closes f's file until its next write. Called with mu held.
func (l *NodeLogs) shut(f *logFile) error {
	if f.f == nil {
		return nil
	}
	l.open.Remove(f.at)
	err := f.f.Close()
	f.f, f.at = nil, nil
	if err != nil {
		l.fail(fmt.Errorf("closing node %s's log: %w", f.node, err))
	}
	return err
}

func (f *logFile) Close() error {
	f.l.mu.Lock()
	defer f.l.mu.Unlock()
	f.done = true
	return f.l.shut(f)
}

// Event frames steps in the node logs.
func (l *NodeLogs) Event(e journal.Event) {
	if e.Node == "" {
		return
	}
	switch e.Kind {
	case journal.KindNode:
		if e.State == journal.Started {
			l.mu.Lock()
			l.entered[e.Phase+"\x00"+e.Node] = true
			l.mu.Unlock()
		}
	case journal.KindStep, journal.KindRollback:
		if e.Step == "" || (e.Kind == journal.KindStep && !l.inPhase(e)) {
			return
		}
		name := strings.ToUpper(strings.ReplaceAll(e.Step, "-", "_"))
		if e.Kind == journal.KindRollback {
			name = "ROLLBACK_" + name
		}
		w := l.Writer(e.Node)
		at := stamp(e.Time)
		switch e.State {
		case journal.Started:
			fmt.Fprintf(w, "########## %s ########## %s\n", name, at)
		case journal.Passed, journal.Failed, journal.Retrying, journal.Cancelled:
			if e.Error != "" {
				fmt.Fprintf(w, "ERROR: %s\n", e.Error)
			}
			fmt.Fprintf(w, "########## %s ########## %s %s\n\n", name, strings.ToUpper(e.State), at)
		case journal.Skipped, journal.Blocked:
			fmt.Fprintf(w, "########## %s ########## %s %s\n\n", name, strings.ToUpper(e.State), at)
		}
	case journal.KindUndo:
		if e.State == journal.Passed || e.State == journal.Failed || e.State == journal.Kept {
			desc, _ := e.Detail["description"].(string)
			fmt.Fprintf(l.Writer(e.Node), "########## COMPENSATION ########## %s: %s %s%s\n", desc, strings.ToUpper(e.State), stamp(e.Time), errSuffix(e.Error))
		}
	}
}

// inPhase reports whether the node of a step event started its phase.
func (l *NodeLogs) inPhase(e journal.Event) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.entered[e.Phase+"\x00"+e.Node]
}

// Close flushes and closes every node log.
func (l *NodeLogs) Close() error {
	l.mu.Lock()
	ws := l.w
	l.w = map[string]*mask.Writer{}
	l.mu.Unlock()
	var errs []error
	for _, w := range ws {
		errs = append(errs, w.Close())
	}
	return errors.Join(errs...)
}

// NodeLogFile is the name of a node's log file under NodesDir (LogName).
func NodeLogFile(node string) string { return LogName(node) }

// stamp is an event's time as a node log shows it: UTC, to the millisecond.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	return " " + e
}
