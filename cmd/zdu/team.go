package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/rundir"
	"github.com/zdu-dev/zdu/engine/state"
	"github.com/zdu-dev/zdu/engine/state/etcdstate"
)

// stateUsage is the --state flag's help, for every command that has it.
const stateUsage = "where the nodes' locks and the record of every run are: a state directory, or etcd://HOST:PORT[,HOST:PORT...]/PREFIX " +
	"for a team (TLS and auth from $" + etcdstate.EnvCACert + ", $" + etcdstate.EnvCert + ", $" + etcdstate.EnvKey + ", $" +
	etcdstate.EnvUser + ", $" + etcdstate.EnvPassword + "; see docs/team.md)"

// openBackend opens a --state value: an etcd URL, else a state directory.
func openBackend(spec string) (state.Backend, error) {
	if etcdstate.IsURL(spec) {
		cfg, err := etcdstate.ParseURL(spec)
		if err != nil {
			return nil, err
		}
		return etcdstate.Open(cfg)
	}
	return state.Open(spec)
}

// recordSpec is the --state value as run.json records it: a directory's
// absolute path, an etcd URL as given.
func recordSpec(spec string) string {
	if etcdstate.IsURL(spec) {
		return spec
	}
	return absPath(spec)
}

// recorder is the backend's run record, when it keeps one (etcd).
func recorder(b state.Backend) (state.Recorder, bool) {
	r, ok := b.(state.Recorder)
	return r, ok
}

// copyFromBackend writes into dir the run id as the backend records it
// (its run.json, plan and inventory copies, its journal), so that zdu can
// resume or report it on this host. A dir that already holds the run's
// journal is kept when it is not behind the backend's record.
func copyFromBackend(rec state.Recorder, id, dir string) error {
	events, err := rec.Events(id)
	if err != nil {
		return err
	}
	if len(events) == 0 {
		return fmt.Errorf("run %s has no journal in the shared state", id)
	}
	if local, err := readEvents(dir); err == nil {
		if local[0].Run != id {
			return fmt.Errorf("%s holds run %s, not %s: choose another --run-dir", dir, local[0].Run, id)
		}
		if last := local[len(local)-1].Seq; last < events[len(events)-1].Seq {
			return fmt.Errorf("%s holds run %s's journal up to event %d, and the shared state has it up to %d: the run went on elsewhere; move %s away (or choose another --run-dir) to copy it again",
				dir, id, last, events[len(events)-1].Seq, dir)
		}
		return nil
	}
	files, err := rec.Files(id)
	if err != nil {
		return err
	}
	for _, name := range []string{rundir.RecordFile, rundir.PlanCopy, rundir.InventoryCopy} {
		if _, ok := files[name]; !ok {
			return fmt.Errorf("run %s: the shared state lacks its %s", id, name)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if ents, _ := os.ReadDir(dir); len(ents) > 0 {
		return fmt.Errorf("%s is not empty and holds no journal of run %s: choose another --run-dir", dir, id)
	}
	for name, data := range files {
		if name == rundir.JournalFile || !storedName(name) {
			continue
		}
		if d := filepath.Dir(name); d != "." {
			if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil && !os.IsExist(err) {
				return err
			}
		}
		if err := rundir.WriteFile(filepath.Join(dir, name), data); err != nil {
			return err
		}
	}
	var buf []byte
	for _, e := range events {
		b, err := jsonLine(e)
		if err != nil {
			return err
		}
		buf = append(buf, b...)
	}
	return rundir.WriteFile(filepath.Join(dir, rundir.JournalFile), buf)
}

// storeFiles puts a new run's run.json and copies into the backend.
func storeFiles(rec state.Recorder, id, dir string) error {
	files := map[string][]byte{}
	names := []string{rundir.RecordFile, rundir.PlanCopy, rundir.InventoryCopy}
	// The copies of the templates and imported plans the plan loaded, so
	// that a resume from another host reads them as they were.
	loaded, err := os.ReadDir(filepath.Join(dir, rundir.LoadedDir))
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	for _, e := range loaded {
		names = append(names, rundir.LoadedDir+"/"+e.Name())
	}
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		files[name] = b
	}
	return rec.PutFiles(id, files)
}

// storedName is a file name the shared state may hand back into a run
// directory: a plain name, or one in the directory of loaded copies —
// never a path that climbs out.
func storedName(name string) bool {
	if filepath.Base(name) == name {
		return name != "." && name != ".."
	}
	d, f := filepath.Split(name)
	return d == rundir.LoadedDir+"/" && f != "" && f != "." && f != ".." && filepath.Base(f) == f
}

// stateWatch turns trouble with the shared state (etcd out of reach, the
// lease lost) into the run's graceful stop, once the runner exists, and
// says so on the console.
type stateWatch struct {
	trouble chan string
}

func newStateWatch() *stateWatch { return &stateWatch{trouble: make(chan string, 8)} }

// problem is the journal sink's report: an outage (ok false) or its end.
func (w *stateWatch) problem(ok bool, msg string) {
	if ok {
		msg = "ok: " + msg
	}
	select {
	case w.trouble <- msg:
	default:
	}
}

// watchLease reports a lost lease.
func (w *stateWatch) watchLease(h state.Hold, done <-chan struct{}) {
	l, ok := h.(state.Leased)
	if !ok {
		return
	}
	go func() {
		select {
		case <-done:
		case <-l.Lost():
			select {
			case <-done:
				return
			default:
			}
			w.problem(false, "the run's lease in etcd was lost (etcd out of reach for longer than the lease, or the lease revoked): another run may take these nodes")
		}
	}()
}

// stopOn passes the trouble to stop (the runner's StopFor) and to msgs.
func (w *stateWatch) stopOn(stop func(string), msgs interface{ Write([]byte) (int, error) }, done <-chan struct{}) {
	stopped := false
	for {
		select {
		case <-done:
			return
		case msg := <-w.trouble:
			if after, ok := cutOK(msg); ok {
				fmt.Fprintf(msgs, "zdu: %s\n", after)
				continue
			}
			if stopped {
				fmt.Fprintf(msgs, "zdu: %s\n", msg)
				continue
			}
			stopped = true
			fmt.Fprintf(msgs, "zdu: shared state: %s: stopping: no new step starts, the node in flight is finished or put back; the run stays resumable\n", msg)
			stop("shared state: " + msg)
		}
	}
}

func cutOK(msg string) (string, bool) {
	const p = "ok: "
	if len(msg) >= len(p) && msg[:len(p)] == p {
		return msg[len(p):], true
	}
	return msg, false
}

// closeSink waits a bounded time for the journal's last events to reach
// the backend.
func closeSink(s state.JournalSink, wait time.Duration, msgs interface{ Write([]byte) (int, error) }) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		fmt.Fprintf(msgs, "zdu: warning: %v\n", err)
	}
}

// eventsFor reads a run's journal: from its directory when arg is one,
// else from the backend's record (etcd), else from the run directory the
// state directory names.
func eventsFor(arg string, b state.Backend) (dir string, events []journal.Event, err error) {
	if _, err := os.Stat(filepath.Join(arg, rundir.JournalFile)); err == nil {
		events, err := readEvents(arg)
		return arg, events, err
	}
	rec, err := b.Run(arg)
	if err != nil {
		return "", nil, fmt.Errorf("%s is neither a run directory nor a run in %s: %w", arg, b, err)
	}
	if r, ok := recorder(b); ok {
		events, err := r.Events(arg)
		if err == nil && len(events) == 0 {
			err = fmt.Errorf("run %s has no journal in %s yet", arg, b)
		}
		return b.String() + " (run on " + rec.Host + ": " + rec.RunDir + ")", events, err
	}
	events, err = readEvents(rec.RunDir)
	return rec.RunDir, events, err
}

func jsonLine(e journal.Event) ([]byte, error) {
	b, err := json.Marshal(e)
	return append(b, '\n'), err
}

// watchRun prints a run's events after those already shown, as they come,
// until the run ends (exit 0) or ctx ends (interrupted). A run in etcd is
// watched with etcd's watch; a local one by reading its journal again.
func watchRun(ctx context.Context, b state.Backend, dir string, events []journal.Event, format string, stdout, stderr io.Writer) int {
	last := events[len(events)-1]
	if ended(last) {
		return exitOK
	}
	print := func(e journal.Event) bool {
		if format == "json" {
			line, _ := jsonLine(e)
			stdout.Write(line)
		} else {
			fmt.Fprintln(stdout, eventLine(e))
		}
		return !ended(e)
	}
	if r, ok := recorder(b); ok {
		for {
			err := r.Watch(ctx, last.Run, last.Seq, func(e journal.Event) bool { last = e; return print(e) })
			switch {
			case ended(last):
				return exitOK
			case ctx.Err() != nil:
				return exitInterrupted
			case err != nil:
				fmt.Fprintf(stderr, "zdu status: %v; watching again\n", err)
			}
			select {
			case <-ctx.Done():
				return exitInterrupted
			case <-time.After(time.Second):
			}
		}
	}
	for {
		select {
		case <-ctx.Done():
			return exitInterrupted
		case <-time.After(500 * time.Millisecond):
		}
		now, err := readEvents(dir)
		if err != nil {
			return report(stdout, stderr, "status", err)
		}
		for _, e := range now {
			if e.Seq > last.Seq {
				last = e
				if !print(e) {
					return exitOK
				}
			}
		}
	}
}

// eventLine is one event as zdu status --watch prints it.
func eventLine(e journal.Event) string {
	where := e.Kind
	for _, s := range []string{e.Phase, e.Node, e.Step} {
		if s != "" {
			where += " " + s
		}
	}
	line := fmt.Sprintf("%s #%d %s %s", e.Time.Local().Format("15:04:05"), e.Seq, where, e.State)
	if e.Error != "" {
		line += ": " + e.Error
	}
	if r, ok := e.Detail["reason"].(string); ok {
		line += ": " + r
	}
	return line
}

// copyAside copies a run recorded in etcd into a temporary directory (for
// zdu report); cleanup removes it.
func copyAside(id, stateSpec string) (string, func(), error) {
	none := func() {}
	b, err := openBackend(stateSpec)
	if err != nil {
		return "", none, err
	}
	defer b.Close()
	rec, ok := recorder(b)
	if !ok {
		return "", none, fmt.Errorf("%s keeps no run records", b)
	}
	tmp, err := os.MkdirTemp("", "zdu-run-")
	if err != nil {
		return "", none, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	dir := filepath.Join(tmp, id)
	if err := copyFromBackend(rec, id, dir); err != nil {
		return "", cleanup, err
	}
	return dir, cleanup, nil
}

// inventoryState is the --state a run uses: the flag when given, else the
// inventory's state: section (a team's etcd), else the flag's default.
func inventoryState(fs *flag.FlagSet, flagValue, inventory string) string {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "state" })
	if given || inventory == "" {
		return flagValue
	}
	return inventory
}
