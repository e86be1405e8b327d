package main

import (
	"io"
	"os"

	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/mask"
	"github.com/zdu-dev/zdu/engine/view"
)

// logFormatUsage is --log-format's help.
const logFormatUsage = "how the run's events show: auto or console (a live view when stdout is a terminal, text lines otherwise), text (always lines), json (the journal's events on stderr)"

// runOutput is how a run shows its events (see view.Mode): the live view
// on stdout when it is a terminal, text lines on stdout otherwise, the
// journal's JSON on stderr with --log-format json. Everything goes
// through the masking writers cmd/zdu's output passes through.
type runOutput struct {
	mode  string
	sink  journal.Sink
	live  *view.Live
	lines *view.Lines
}

// newRunOutput sets up a run's output for --log-format format.
func newRunOutput(format string, m *mask.Masker, stdout, stderr io.Writer) *runOutput {
	tty, _ := unwrapFile(stdout)
	o := &runOutput{mode: view.Mode(format, isTerminal(stdout), os.Environ())}
	switch o.mode {
	case view.ModeJSON:
		o.sink = view.NewJSON(stderr)
	case view.ModeLines:
		o.lines = view.NewLines(stdout, nil)
		o.sink = o.lines
	default:
		o.live = view.NewLive(view.LiveOptions{Out: frames{stdout}, TTY: tty, Mask: m.Mask})
		o.sink = o.live
	}
	return o
}

// prime gives the view what a resumed run did before.
func (o *runOutput) prime(events []journal.Event) {
	switch {
	case o.live != nil:
		o.live.Prime(events)
	case o.lines != nil:
		o.lines.Prime(events)
	}
}

// start starts drawing, and returns where messages during the run go:
// above the live view when stderr is the same terminal, stderr otherwise.
func (o *runOutput) start(stderr io.Writer) io.Writer {
	if o.live == nil {
		return stderr
	}
	o.live.Start()
	if isTerminal(stderr) {
		return o.live.Writer()
	}
	return stderr
}

// stop leaves the view's last frame on the screen.
func (o *runOutput) stop() {
	if o.live != nil {
		_ = o.live.Stop()
	}
}

// frames passes each write on and flushes the masking writer under it at
// once: a frame's last line has no newline to wait for. Bubble Tea writes
// a frame (or the part that changed) in one write, so a masked value is
// never split across two.
type frames struct{ w io.Writer }

func (f frames) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	for w := f.w; ; {
		switch x := w.(type) {
		case *mask.Writer:
			if ferr := x.Flush(); err == nil {
				err = ferr
			}
			w = x.Unwrap()
			continue
		case *outputGuard:
			w = x.w
			continue
		case *lockedWriter:
			w = x.w
			continue
		}
		return n, err
	}
}
