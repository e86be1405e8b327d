package view

import "strings"

// How a run shows its events on stdout.
const (
	ModeLive  = "live"  // the live view, redrawn in place
	ModeLines = "lines" // a text line per event
	ModeJSON  = "json"  // the journal's events, one JSON object a line (on stderr)
)

// Formats are the values of --log-format: auto and console are the live
// view on a terminal and text lines elsewhere; text is always lines; json
// the journal's events.
var Formats = []string{"auto", "console", "text", "json"}

// Mode picks how a run shows its events: format is --log-format, tty
// whether stdout is a terminal, env the environment. A terminal that
// cannot move its cursor (TERM=dumb, or no TERM at all) gets text lines.
func Mode(format string, tty bool, env []string) string {
	switch format {
	case "json":
		return ModeJSON
	case "text":
		return ModeLines
	}
	term := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "TERM="); ok {
			term = v
		}
	}
	if !tty || term == "" || term == "dumb" {
		return ModeLines
	}
	return ModeLive
}
