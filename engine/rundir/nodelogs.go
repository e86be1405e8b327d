package rundir

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/mask"
)

// NodeLogs writes one log file per node under dir, in the seed's framed
// style: each step between `########## NAME ##########` lines, with the
// step's own output (commands, their output, exit codes) inside. A node's
// log shows the phases it entered, not the steps of phases it never
// reached.
type NodeLogs struct {
	dir  string
	mask *mask.Masker
	mu   sync.Mutex
	w    map[string]*maskWriter
	// entered holds "phase\x00node" for every node a phase started on.
	entered map[string]bool
}

// NewNodeLogs writes node logs into dir (created if needed). An empty dir
// discards the logs (dry runs, tests).
func NewNodeLogs(dir string, m *mask.Masker) (*NodeLogs, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating node log dir: %w", err)
		}
	}
	return &NodeLogs{dir: dir, mask: m, w: map[string]*maskWriter{}, entered: map[string]bool{}}, nil
}

// Writer returns the node's log writer.
func (l *NodeLogs) Writer(node string) io.Writer {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w, ok := l.w[node]; ok {
		return w
	}
	w := &maskWriter{mask: l.mask}
	if l.dir != "" {
		f, err := os.OpenFile(filepath.Join(l.dir, safeName(node)+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err == nil {
			w.out = f
		}
	}
	l.w[node] = w
	return w
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
		switch e.State {
		case journal.Started:
			fmt.Fprintf(w, "########## %s ##########\n", name)
		case journal.Passed, journal.Failed, journal.Retrying, journal.Cancelled:
			if e.Error != "" {
				fmt.Fprintf(w, "ERROR: %s\n", e.Error)
			}
			fmt.Fprintf(w, "########## %s ########## %s\n\n", name, strings.ToUpper(e.State))
		case journal.Skipped, journal.Blocked:
			fmt.Fprintf(w, "########## %s ########## %s\n\n", name, strings.ToUpper(e.State))
		}
	case journal.KindUndo:
		if e.State == journal.Passed || e.State == journal.Failed || e.State == journal.Kept {
			desc, _ := e.Detail["description"].(string)
			fmt.Fprintf(l.Writer(e.Node), "########## COMPENSATION ########## %s: %s %s\n", desc, strings.ToUpper(e.State), e.Error)
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
	defer l.mu.Unlock()
	for _, w := range l.w {
		w.Close()
	}
	return nil
}

// maskWriter masks whole lines, so a secret split across writes is still
// caught; a partial last line is flushed on Close.
type maskWriter struct {
	mu   sync.Mutex
	mask *mask.Masker
	buf  bytes.Buffer
	out  io.WriteCloser
}

func (w *maskWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		i := bytes.IndexByte(w.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		line := w.buf.Next(i + 1)
		if w.out != nil {
			io.WriteString(w.out, w.mask.Mask(string(line)))
		}
	}
	return len(p), nil
}

func (w *maskWriter) Close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.out != nil {
		if w.buf.Len() > 0 {
			io.WriteString(w.out, w.mask.Mask(w.buf.String()))
		}
		w.out.Close()
		w.out = nil
	}
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || r == ' ' {
			return '_'
		}
		return r
	}, s)
}
