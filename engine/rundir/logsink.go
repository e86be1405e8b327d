package rundir

import (
	"io"

	"github.com/rs/zerolog"

	"github.com/zdu-dev/zdu/engine/journal"
)

// LogSink turns journal events into zerolog lines: every line carries the
// run id, and phase, node and step where they apply.
type LogSink struct{ L zerolog.Logger }

// NewLogSink logs to w, as human-readable console lines when console is set
// and as JSON lines otherwise.
func NewLogSink(w io.Writer, console, color bool, level zerolog.Level) *LogSink {
	if console {
		w = zerolog.ConsoleWriter{Out: w, NoColor: !color, TimeFormat: "15:04:05"}
	}
	return &LogSink{L: zerolog.New(w).Level(level).With().Timestamp().Logger()}
}

// Event logs one event.
func (s *LogSink) Event(e journal.Event) {
	lvl := zerolog.InfoLevel
	switch e.State {
	case journal.Failed, journal.Cancelled:
		lvl = zerolog.ErrorLevel
	case journal.Retrying, journal.Blocked, journal.Waiting:
		lvl = zerolog.WarnLevel
	case journal.Progress:
		// A poll a second would drown run.log; the journal keeps them.
		lvl = zerolog.TraceLevel
	case journal.Started, journal.Armed:
		if e.Kind == journal.KindStep || e.Kind == journal.KindRule {
			lvl = zerolog.DebugLevel
		}
	}
	ev := s.L.WithLevel(lvl).Str("run", e.Run)
	if e.Phase != "" {
		ev = ev.Str("phase", e.Phase)
	}
	if e.Node != "" {
		ev = ev.Str("node", e.Node)
	}
	if e.Step != "" {
		ev = ev.Str("step", e.Step)
	}
	if e.Rollback != "" {
		ev = ev.Str("rollback", e.Rollback)
	}
	if e.Attempt > 1 {
		ev = ev.Int("attempt", e.Attempt)
	}
	if e.ExitCode != nil && e.State != journal.Started {
		ev = ev.Int("exit", *e.ExitCode)
	}
	if e.Error != "" {
		ev = ev.Str("error", e.Error)
	}
	if msg, _ := e.Detail["message"].(string); e.State == journal.Waiting && msg != "" {
		ev = ev.Str("waiting", msg)
	}
	ev.Msg(e.Kind + " " + e.State)
}
