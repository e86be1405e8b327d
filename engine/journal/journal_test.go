package journal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type collect struct{ got []Event }

func (c *collect) Event(e Event) { c.got = append(c.got, e) }

func TestAppendReadMask(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	sink := &collect{}
	j, err := Create(path, "r1", replacer{strings.NewReplacer("hunter2", "****")}, sink)
	if err != nil {
		t.Fatal(err)
	}
	evs := []Event{
		{Kind: KindRun, State: Started},
		{Kind: KindStep, State: Failed, Phase: "apply", Node: "Node-B", Step: "apply", ExitCode: Code(73), Error: "bad password hunter2"},
	}
	for _, e := range evs {
		if err := j.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Create(path, "r2", nil); err == nil {
		t.Fatal("Create over an existing journal must fail, not truncate it")
	}
	j.Close()
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), "hunter2") {
		t.Fatalf("secret reached the journal: %s", raw)
	}
	f, _ := os.Open(path)
	defer f.Close()
	got, err := Read(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Seq != 2 || got[1].Run != "r1" || *got[1].ExitCode != 73 || got[1].Error != "bad password ****" {
		t.Fatalf("read back %+v", got)
	}
	if len(sink.got) != 2 || sink.got[0].Seq != 1 {
		t.Fatalf("sink saw %+v", sink.got)
	}
}

func TestReadTornLastLine(t *testing.T) {
	in := `{"seq":1,"kind":"run","state":"started"}` + "\n" + `{"seq":2,"kind":"st`
	got, err := Read(strings.NewReader(in))
	if err != nil || len(got) != 1 {
		t.Fatalf("got %v, %v; want the one whole event", got, err)
	}
	bad := `{"seq":1` + "\n" + `{"seq":2,"kind":"run","state":"started"}` + "\n"
	if _, err := Read(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("a bad middle line must be an error naming it, got %v", err)
	}
}

// TestOpenGoesOn: a reopened journal cuts a torn last line, goes on with
// the sequence numbers, and reads back whole.
func TestOpenGoesOn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	j, err := Create(path, "r1", nil)
	if err != nil {
		t.Fatal(err)
	}
	j.Append(Event{Kind: KindRun, State: Started})
	j.Append(Event{Kind: KindStep, State: Started, Step: "a"})
	j.Close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"seq":3,"kind":"st`) // the crash
	f.Close()
	j, events, err := Open(path, "r1", nil)
	if err != nil || len(events) != 2 {
		t.Fatalf("open: %v, %d events", err, len(events))
	}
	if err := j.Append(Event{Kind: KindRun, State: Resumed}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	f, _ = os.Open(path)
	defer f.Close()
	got, err := Read(f)
	if err != nil || len(got) != 3 || got[2].Seq != 3 || got[2].State != Resumed {
		t.Fatalf("read back %+v, %v", got, err)
	}
}

// replacer is a Masker of fixed replacements.
type replacer struct{ *strings.Replacer }

func (r replacer) Mask(s string) string { return r.Replace(s) }
func (r replacer) Secrets() bool        { return true }
