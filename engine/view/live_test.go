package view

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/colorprofile"
)

// syncBuffer is a bytes.Buffer safe for the program's writer and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// colourSGR matches a foreground colour: what NO_COLOR must leave out.
var colourSGR = regexp.MustCompile(`\x1b\[[0-9;]*(3[0-7]|38;[0-9;]+|9[0-7])m`)

// TestLiveDraws runs the live view through Bubble Tea into a buffer: it
// draws the nodes and the probe, prints a message above itself, masks
// what the mask hides, and colours its states unless NO_COLOR says not.
func TestLiveDraws(t *testing.T) {
	events := readJournal(t, "drain-wait.jsonl")
	for _, tc := range []struct {
		name   string
		env    []string
		colour bool
	}{
		{"colour", []string{"TERM=xterm-256color", "CLICOLOR_FORCE=1"}, true},
		{"NO_COLOR", []string{"TERM=xterm-256color", "CLICOLOR_FORCE=1", "NO_COLOR=yes"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out syncBuffer
			now := events[len(events)-1].Time
			l := NewLive(LiveOptions{Out: &out, Width: 100, Height: 30, Env: tc.env,
				Now:  func() time.Time { return now },
				Mask: strings.NewReplacer("web-3", "****").Replace})
			l.Prime(events[:5])
			l.Start()
			for _, e := range events[5:] {
				l.Event(e)
			}
			l.Println("zdu: a message web-3")
			deadline := time.Now().Add(20 * time.Second)
			for !strings.Contains(out.String(), "7 sessions") && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if err := l.Stop(); err != nil {
				t.Fatal(err)
			}
			l.Println("zdu: after the view")
			got := out.String()
			if !strings.HasSuffix(got, "zdu: after the view\n") {
				t.Errorf("a line printed after Stop is not at the end of the output:\n%q", got)
			}
			for _, want := range []string{"web-1", "web-2", "7 sessions", "probe 100 req/s", "zdu: a message ****"} {
				if !strings.Contains(got, want) {
					t.Errorf("output lacks %q:\n%q", want, got)
				}
			}
			if strings.Contains(got, "web-3") {
				t.Errorf("a masked name reached the terminal:\n%q", got)
			}
			if has := colourSGR.MatchString(got); has != tc.colour {
				t.Errorf("colours in the output: %v, want %v:\n%q", has, tc.colour, got)
			}
		})
	}
}

func TestProfileHonoursNoColor(t *testing.T) {
	var b bytes.Buffer
	forced := []string{"TERM=xterm-256color", "CLICOLOR_FORCE=1"}
	if p := Profile(&b, forced); p < colorprofile.ANSI {
		t.Errorf("forced colours: profile %v", p)
	}
	for _, v := range []string{"1", "yes", "true"} {
		if p := Profile(&b, append(forced, "NO_COLOR="+v)); p > colorprofile.ASCII {
			t.Errorf("NO_COLOR=%s: profile %v, want no colours", v, p)
		}
	}
}
