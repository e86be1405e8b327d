package etcdstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"

	"github.com/zdu-dev/zdu/engine/state"
)

// Backend is zdu's state in an etcd cluster.
type Backend struct {
	cfg Config
	cli *clientv3.Client
}

var (
	_ state.Backend  = (*Backend)(nil)
	_ state.Recorder = (*Backend)(nil)
	_ state.Leased   = (*hold)(nil)
)

// Open connects to the cluster (lazily: an unreachable cluster fails the
// first request, within the config's timeout).
func Open(cfg Config) (*Backend, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: cfg.Timeout,
		TLS:         cfg.TLS,
		Username:    cfg.User,
		Password:    cfg.Password,
		// The client's own log is for etcd's developers; zdu says what
		// failed in its own words.
		Logger: zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd %s: %w", cfg, err)
	}
	return &Backend{cfg: cfg, cli: cli}, nil
}

func (b *Backend) String() string { return b.cfg.String() }

// Close closes the connection.
func (b *Backend) Close() error { return b.cli.Close() }

func (b *Backend) key(parts ...string) string {
	return path.Join(append([]string{b.cfg.Prefix}, parts...)...)
}

func (b *Backend) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), b.cfg.Timeout)
}

// wrap says what failed, and that it was etcd.
func (b *Backend) wrap(doing string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w within %s", errNoCluster, b.cfg.Timeout)
	}
	return fmt.Errorf("etcd %s: %s: %w", b.cfg, doing, err)
}

// lockValue is what a node's lock holds.
type lockValue struct {
	Run      string    `json:"run"`
	Node     string    `json:"node"`
	Endpoint string    `json:"endpoint"`
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	User     string    `json:"user"`
	Since    time.Time `json:"since"`
}

// Lock records run and locks its nodes under a lease this process keeps
// alive, in one transaction that fails if any lock changed since it was
// read; or refuses, naming the holder.
func (b *Backend) Lock(run state.Run, nodes []state.Node) (state.Hold, error) {
	var sess *concurrency.Session
	fail := func(err error) (state.Hold, error) {
		if sess != nil {
			sess.Close()
		}
		return nil, err
	}
	for attempt := 0; attempt < 5; attempt++ {
		ctx, cancel := b.ctx()
		ops := []clientv3.Op{clientv3.OpGet(b.key("alive", run.ID))}
		for _, n := range nodes {
			ops = append(ops, clientv3.OpGet(b.key("locks", n.Key())))
		}
		resp, err := b.cli.Txn(ctx).Then(ops...).Commit()
		cancel()
		if err != nil {
			return fail(b.wrap("reading the locks", err))
		}
		if alive := resp.Responses[0].GetResponseRange(); len(alive.Kvs) > 0 {
			holder, rerr := b.Run(run.ID)
			if rerr != nil {
				holder = run
			}
			return fail(&state.HeldError{Holder: holder, Nodes: run.Nodes, Alive: true})
		}
		held := map[string][]string{}
		revs := make([]int64, len(nodes))
		for i, n := range nodes {
			kvs := resp.Responses[i+1].GetResponseRange().Kvs
			if len(kvs) == 0 {
				continue
			}
			revs[i] = kvs[0].ModRevision
			var lv lockValue
			if json.Unmarshal(kvs[0].Value, &lv) != nil || lv.Run == run.ID {
				continue
			}
			if rec, err := b.Run(lv.Run); err == nil && rec.Ended != nil && !b.Alive(rec) {
				continue // left by a run that ended: nothing to protect
			}
			held[lv.Run] = append(held[lv.Run], n.Name)
		}
		if len(held) > 0 {
			return fail(b.heldError(held))
		}
		if sess == nil {
			if sess, err = b.session(); err != nil {
				return fail(b.wrap("taking a lease", err))
			}
		}
		rec, err := json.Marshal(run)
		if err != nil {
			return fail(err)
		}
		who, _ := json.Marshal(state.Me())
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(b.key("alive", run.ID)), "=", 0)}
		puts := []clientv3.Op{
			clientv3.OpPut(b.key("runs", run.ID), string(rec)),
			clientv3.OpPut(b.key("alive", run.ID), string(who), clientv3.WithLease(sess.Lease())),
		}
		values := map[string]string{}
		for i, n := range nodes {
			k := b.key("locks", n.Key())
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(k), "=", revs[i]))
			lv, _ := json.Marshal(lockValue{Run: run.ID, Node: n.Name, Endpoint: n.Endpoint, Host: run.Host, PID: run.PID, User: run.User, Since: time.Now().UTC()})
			values[k] = string(lv)
			puts = append(puts, clientv3.OpPut(k, string(lv)))
		}
		ctx, cancel = b.ctx()
		tr, err := b.cli.Txn(ctx).If(cmps...).Then(puts...).Commit()
		cancel()
		if err != nil {
			return fail(b.wrap("taking the locks", err))
		}
		if tr.Succeeded {
			return &hold{b: b, run: run, sess: sess, values: values}, nil
		}
		// Another run took or released a lock meanwhile: read them again.
	}
	return fail(fmt.Errorf("etcd %s: the locks kept changing while this run tried to take them: try again", b.cfg))
}

func (b *Backend) session() (*concurrency.Session, error) {
	ctx, cancel := b.ctx()
	defer cancel()
	resp, err := b.cli.Grant(ctx, int64(b.cfg.LeaseTTL/time.Second))
	if err != nil {
		return nil, err
	}
	// The session's keep-alive lives as long as the process, not ctx.
	// WithTTL too: Close waits that long at most to revoke the lease.
	return concurrency.NewSession(b.cli, concurrency.WithLease(resp.ID), concurrency.WithTTL(int(b.cfg.LeaseTTL/time.Second)),
		concurrency.WithContext(context.Background()))
}

// heldError names the first holder (in id order) and its nodes.
func (b *Backend) heldError(held map[string][]string) error {
	return state.FirstHolder(held, b.Run, b.Alive)
}

// hold is a run's hold: its locks, and the lease its alive key is under.
type hold struct {
	b      *Backend
	run    state.Run
	sess   *concurrency.Session
	values map[string]string // lock key -> the value this run put
}

func (h *hold) Lost() <-chan struct{} { return h.sess.Done() }

// Release records how the run ended, deletes the locks still as this run
// put them, and revokes the lease. When etcd cannot be reached, the locks
// stay: the run shows as unfinished until resumed or abandoned.
func (h *hold) Release(status string, exitCode int) error {
	b := h.b
	var errs []error
	if err := b.updateRun(h.run.ID, h.run, func(r *state.Run) {
		now := time.Now().UTC()
		r.Ended, r.Status, r.ExitCode = &now, status, &exitCode
	}); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		for k, v := range h.values {
			ctx, cancel := b.ctx()
			_, err := b.cli.Txn(ctx).If(clientv3.Compare(clientv3.Value(k), "=", v)).Then(clientv3.OpDelete(k)).Commit()
			cancel()
			if err != nil {
				errs = append(errs, b.wrap("releasing the lock "+k, err))
				break
			}
		}
	}
	h.sess.Close() // revokes the lease (best effort: it expires anyway)
	if len(errs) > 0 {
		return fmt.Errorf("%w; the run's nodes stay locked as unfinished: once etcd answers, resume the run (zdu resume %s) or abandon it (zdu abandon %s)",
			errors.Join(errs...), h.run.ID, h.run.ID)
	}
	return nil
}

// updateRun changes a run's record (or fallback, when it has none).
func (b *Backend) updateRun(id string, fallback state.Run, change func(*state.Run)) error {
	r, err := b.Run(id)
	if errors.Is(err, state.ErrNoRun) {
		r, err = fallback, nil
	}
	if err != nil {
		return err
	}
	change(&r)
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	ctx, cancel := b.ctx()
	defer cancel()
	if _, err := b.cli.Put(ctx, b.key("runs", id), string(v)); err != nil {
		return b.wrap("recording run "+id, err)
	}
	return nil
}

// Unlock releases (abandons) the locks of a run that is not running, and
// records who did it.
func (b *Backend) Unlock(id string) ([]string, error) {
	run, err := b.Run(id)
	if err != nil {
		return nil, err
	}
	if b.Alive(run) {
		return nil, fmt.Errorf("run %s is still running (pid %d on %s, its lease in etcd is alive): stop it first", id, run.PID, run.Host)
	}
	ctx, cancel := b.ctx()
	resp, err := b.cli.Get(ctx, b.key("locks")+"/", clientv3.WithPrefix())
	cancel()
	if err != nil {
		return nil, b.wrap("reading the locks", err)
	}
	var released []string
	for _, kv := range resp.Kvs {
		var lv lockValue
		if json.Unmarshal(kv.Value, &lv) != nil || lv.Run != id {
			continue
		}
		ctx, cancel := b.ctx()
		_, err := b.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(string(kv.Key)), "=", kv.ModRevision)).Then(clientv3.OpDelete(string(kv.Key))).Commit()
		cancel()
		if err != nil {
			return released, b.wrap("releasing "+lv.Node, err)
		}
		released = append(released, lv.Node)
	}
	sort.Strings(released)
	who := state.Me()
	return released, b.updateRun(id, run, func(r *state.Run) { r.Unlocked = &who })
}

// Resumed records that run is resumed by this process.
func (b *Backend) Resumed(run *state.Run) {
	me := state.Me()
	run.Resumed = append(run.Resumed, me)
	run.Host, run.PID, run.User = me.Host, me.PID, me.User
	run.Ended, run.Status, run.ExitCode = nil, "", nil
}

// Run reads a run's record.
func (b *Backend) Run(id string) (state.Run, error) {
	var r state.Run
	if strings.ContainsAny(id, "/\x00") || id == "" {
		return r, state.NoRunError(fmt.Sprintf("%q is not a run id", id))
	}
	ctx, cancel := b.ctx()
	defer cancel()
	resp, err := b.cli.Get(ctx, b.key("runs", id))
	if err != nil {
		return r, b.wrap("reading run "+id, err)
	}
	if len(resp.Kvs) == 0 {
		return r, state.NoRunError(fmt.Sprintf("no run %s in etcd %s", id, b.cfg))
	}
	if err := json.Unmarshal(resp.Kvs[0].Value, &r); err != nil {
		return r, fmt.Errorf("etcd %s: run %s: %w", b.cfg, id, err)
	}
	return r, nil
}

// Runs lists every recorded run, newest first.
func (b *Backend) Runs() ([]state.Run, error) {
	ctx, cancel := b.ctx()
	defer cancel()
	resp, err := b.cli.Get(ctx, b.key("runs")+"/", clientv3.WithPrefix())
	if err != nil {
		return nil, b.wrap("listing the runs", err)
	}
	var out []state.Run
	for _, kv := range resp.Kvs {
		var r state.Run
		if json.Unmarshal(kv.Value, &r) == nil {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.After(out[j].Started) })
	return out, nil
}

// Alive reports whether the run's lease is alive (a run it cannot ask
// etcd about counts as alive: nothing is unlocked on a guess).
func (b *Backend) Alive(run state.Run) bool {
	ctx, cancel := b.ctx()
	defer cancel()
	resp, err := b.cli.Get(ctx, b.key("alive", run.ID), clientv3.WithCountOnly())
	return err != nil || resp.Count > 0
}

// Locks lists the locked nodes by the id of the run holding them.
func (b *Backend) Locks() (map[string][]string, error) {
	ctx, cancel := b.ctx()
	defer cancel()
	resp, err := b.cli.Get(ctx, b.key("locks")+"/", clientv3.WithPrefix())
	if err != nil {
		return nil, b.wrap("reading the locks", err)
	}
	out := map[string][]string{}
	for _, kv := range resp.Kvs {
		var lv lockValue
		if json.Unmarshal(kv.Value, &lv) == nil {
			out[lv.Run] = append(out[lv.Run], lv.Node)
		}
	}
	return out, nil
}

// hostname is this host's name, for the outage record.
func hostname() string {
	h, _ := os.Hostname()
	return h
}
