package run

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/steps/transport"
)

// Masker hides secret values (and their shell-quoted forms) in text.
type Masker struct{ r *strings.Replacer }

// NewMasker masks every value in secrets.
func NewMasker(secrets []string) *Masker {
	var pairs []string
	for _, s := range secrets {
		if s == "" {
			continue
		}
		pairs = append(pairs, s, "****")
		if q := transport.Quote(s); q != "'"+s+"'" {
			pairs = append(pairs, q, "'****'")
		}
	}
	// Longer first, so a secret containing another is masked whole.
	for i := 0; i < len(pairs); i += 2 {
		for j := i + 2; j < len(pairs); j += 2 {
			if len(pairs[j]) > len(pairs[i]) {
				pairs[i], pairs[j] = pairs[j], pairs[i]
				pairs[i+1], pairs[j+1] = pairs[j+1], pairs[i+1]
			}
		}
	}
	return &Masker{r: strings.NewReplacer(pairs...)}
}

// Mask returns s with secrets replaced.
func (m *Masker) Mask(s string) string {
	if m == nil || m.r == nil {
		return s
	}
	return m.r.Replace(s)
}

// NodeLogs writes one log file per node under dir, in the seed's framed
// style: each step between `########## NAME ##########` lines, with the
// step's own output (commands, their output, exit codes) inside.
type NodeLogs struct {
	dir  string
	mask *Masker
	mu   sync.Mutex
	w    map[string]*maskWriter
}

// NewNodeLogs writes node logs into dir (created if needed). An empty dir
// discards the logs (dry runs, tests).
func NewNodeLogs(dir string, mask *Masker) (*NodeLogs, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating node log dir: %w", err)
		}
	}
	return &NodeLogs{dir: dir, mask: mask, w: map[string]*maskWriter{}}, nil
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
	case journal.KindStep, journal.KindRollback:
		if e.Step == "" {
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
		if e.State != journal.Started {
			desc, _ := e.Detail["description"].(string)
			fmt.Fprintf(l.Writer(e.Node), "########## COMPENSATION ########## %s: %s %s\n", desc, strings.ToUpper(e.State), e.Error)
		}
	}
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
	mask *Masker
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
