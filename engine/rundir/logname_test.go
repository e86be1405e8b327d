package rundir

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/engine/mask"
)

// hostileNames are node names that would have shared a log file, or had
// none, had the file name been the node name with a few characters mapped.
var hostileNames = []string{
	"web_1", "web/1", "web 1", "web\\1", "web\x001", "web\n1", "web_1~0000000000000000",
	"Web_1", ".", "..", "../x", ".hidden", "", "-", "web:1", "web\u202e1", "web\u200b1",
	strings.Repeat("a", 100), strings.Repeat("a", 101), strings.Repeat("a", 300),
	strings.Repeat("a", 300) + "b", strings.Repeat("é", 200), strings.Repeat("/", 64) + "x",
}

func TestLogNamesAreDistinctAndBounded(t *testing.T) {
	seen := map[string]string{}
	for _, n := range hostileNames {
		name := LogName(n)
		if other, dup := seen[name]; dup {
			t.Errorf("nodes %q and %q share the log %s", n, other, name)
		}
		seen[name] = n
		if len(name) > 110 || name != filepath.Base(name) || strings.HasPrefix(name, ".") || strings.ContainsAny(name, "/\\\x00 \n") {
			t.Errorf("LogName(%q) = %q: not one short, plain file name", n, name)
		}
		if name != LogName(n) {
			t.Errorf("LogName(%q) changes from call to call", n)
		}
	}
	for n, want := range map[string]string{"web-1": "web-1.log", "Node-A": "Node-A.log", "db.example.com": "db.example.com.log"} {
		if got := LogName(n); got != want {
			t.Errorf("LogName(%q) = %q, want %q (a plain name is kept)", n, got, want)
		}
	}
	if got := LogName("web/1"); !strings.HasPrefix(got, "web_1~") {
		t.Errorf("LogName(web/1) = %q, want the slug web_1 and a hash", got)
	}
}

// Every node writes its own file, whatever its name; run.json maps each
// node to it.
func TestNodeLogsOneFileEachNode(t *testing.T) {
	dir := t.TempDir()
	logs, err := NewNodeLogs(filepath.Join(dir, NodesDir), mask.New(nil))
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range hostileNames {
		fmt.Fprintf(logs.Writer(n), "line of node %d\n", i)
	}
	if err := logs.Close(); err != nil {
		t.Fatal(err)
	}
	if err := logs.Err(); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, NodesDir))
	if len(ents) != len(hostileNames) {
		t.Errorf("%d files for %d nodes", len(ents), len(hostileNames))
	}
	rd := &Dir{Path: dir}
	if err := rd.WriteRecord(Record{ID: "r", NodeLogs: NodeLogPaths(hostileNames)}, nil, nil); err != nil {
		t.Fatal(err)
	}
	var rec Record
	b, _ := os.ReadFile(filepath.Join(dir, RecordFile))
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	for i, n := range hostileNames {
		rel, ok := rec.NodeLogs[n]
		if !ok {
			t.Errorf("run.json has no log for node %q", n)
			continue
		}
		got, err := os.ReadFile(filepath.Join(dir, rel))
		if want := fmt.Sprintf("line of node %d\n", i); err != nil || string(got) != want {
			t.Errorf("node %q's log %s holds %q (%v), want %q", n, rel, got, err, want)
		}
	}
}
