package view

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/zdu-dev/zdu/engine/journal"
)

// Redraw is how often the live view draws itself again (its clocks move
// even when no event comes). Bubble Tea writes only what changed.
const Redraw = 250 * time.Millisecond

// LiveOptions set up a live view.
type LiveOptions struct {
	// Out receives the frames. Every byte must reach the terminal as it
	// is written (a masking writer that holds back a partial line must
	// be flushed on each write).
	Out io.Writer
	// TTY is the terminal Out ends in: its size, and SIGWINCH for its
	// new size. Nil: Width and Height, fixed.
	TTY *os.File
	// Width and Height are the size without a TTY.
	Width, Height int
	// Env is the environment (TERM, NO_COLOR, COLORTERM); nil: os.Environ().
	Env []string
	// Mask hides secrets in each frame before it is drawn (the events
	// are masked already by the journal; this is the second lock).
	Mask func(string) string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Live is the live view on a terminal: a journal.Sink whose events update
// the model, drawn in place by Bubble Tea until Stop. It reads no input
// and leaves signals to zdu: Ctrl-C stops the run as it always does.
type Live struct {
	mu   sync.Mutex
	m    *Model
	opt  LiveOptions
	p    *tea.Program
	done chan struct{}
	err  error
	once sync.Once
	// started: Start was called (Stop of a view never started returns).
	started atomic.Bool
	// pmu orders Println with Stop: once stopped, lines go straight out.
	pmu     sync.Mutex
	stopped bool
}

// NewLive makes a live view; Prime and Event fill it, Start draws it.
func NewLive(opt LiveOptions) *Live {
	if opt.Env == nil {
		opt.Env = os.Environ()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Mask == nil {
		opt.Mask = func(s string) string { return s }
	}
	l := &Live{m: NewModel(), opt: opt, done: make(chan struct{})}
	var out io.Writer = opt.Out
	if opt.TTY != nil {
		out = ttyWriter{w: opt.Out, f: opt.TTY}
	}
	l.p = tea.NewProgram(teaModel{l: l},
		tea.WithOutput(out),
		tea.WithInput(nil), // no raw mode: Ctrl-C stays SIGINT, zdu's to handle
		tea.WithoutSignalHandler(),
		tea.WithEnvironment(opt.Env),
		tea.WithColorProfile(Profile(out, opt.Env)),
		tea.WithWindowSize(opt.Width, opt.Height),
		tea.WithFPS(int(time.Second/Redraw)))
	return l
}

// Start draws the view in place until Stop.
func (l *Live) Start() {
	l.started.Store(true)
	go func() {
		defer close(l.done)
		_, err := l.p.Run()
		l.err = err
	}()
}

// Profile is the colours a terminal gets: what it says it has, none with
// NO_COLOR set to anything (no-color.org), bold and faint still.
func Profile(out io.Writer, env []string) colorprofile.Profile {
	p := colorprofile.Detect(out, env)
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "NO_COLOR="); ok && v != "" && p > colorprofile.ASCII {
			p = colorprofile.ASCII
		}
	}
	return p
}

// Prime applies what happened before the view started (a resumed run's
// earlier events).
func (l *Live) Prime(events []journal.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range events {
		l.m.Apply(e)
	}
}

// Event applies e. It never waits for the terminal: the journal calls it
// under its lock.
func (l *Live) Event(e journal.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.m.Apply(e)
}

// Println prints a line above the view (a message while the run goes on).
func (l *Live) Println(s string) {
	l.pmu.Lock()
	defer l.pmu.Unlock()
	if !l.started.Load() || l.stopped {
		fmt.Fprintln(l.opt.Out, l.opt.Mask(s))
		return
	}
	l.p.Send(tea.Println(l.opt.Mask(s))())
}

// Writer is a writer whose lines are printed above the view.
func (l *Live) Writer() io.Writer { return &above{l: l} }

// Stop draws the last frame, leaves it on the screen and returns once the
// terminal is as it was. It may be called more than once.
func (l *Live) Stop() error {
	l.once.Do(func() {
		l.pmu.Lock()
		defer l.pmu.Unlock()
		l.stopped = true
		if !l.started.Load() {
			return
		}
		l.p.Send(redraw{})
		l.p.Quit()
		select {
		case <-l.done:
		case <-time.After(5 * time.Second):
			l.p.Kill() // a terminal that takes no output must not hold zdu
			<-l.done
		}
		if errors.Is(l.err, tea.ErrProgramKilled) {
			l.err = nil
		}

	})
	return l.err
}

// frame renders the model now.
func (l *Live) frame(width, height int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.opt.Mask(l.m.Frame(l.opt.Now(), width, height, Style{Color: true}))
}

// teaModel is the Bubble Tea program's model: a window onto Live's.
type teaModel struct {
	l             *Live
	width, height int
}

type redraw struct{}

func tick() tea.Cmd { return tea.Tick(Redraw, func(time.Time) tea.Msg { return redraw{} }) }

func (m teaModel) Init() tea.Cmd { return tick() }

func (m teaModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case redraw:
		return m, tick()
	}
	return m, nil
}

func (m teaModel) View() tea.View {
	// One column short of the width: a line filling the last column
	// makes some terminals wrap when the cursor moves on.
	// The frame ends with an empty line: Bubble Tea erases the last line
	// as it exits (it leaves the cursor there, for what is printed next).
	return tea.NewView(m.l.frame(max(m.width-1, 20), max(m.height-1, 0)) + "\n")
}

// ttyWriter is the terminal's output as Bubble Tea wants it (a term.File,
// for its size and SIGWINCH), with the bytes going through w.
type ttyWriter struct {
	w io.Writer
	f *os.File
}

func (t ttyWriter) Write(p []byte) (int, error) { return t.w.Write(p) }
func (t ttyWriter) Read([]byte) (int, error)    { return 0, io.EOF }
func (t ttyWriter) Close() error                { return nil }
func (t ttyWriter) Fd() uintptr                 { return t.f.Fd() }

// above prints whole lines above the view.
type above struct {
	l   *Live
	mu  sync.Mutex
	buf []byte
}

func (a *above) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.buf = append(a.buf, p...)
	for {
		i := strings.IndexByte(string(a.buf), '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(a.buf[:i])
		a.buf = a.buf[i+1:]
		a.l.Println(line)
	}
}
