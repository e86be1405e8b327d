package lb

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"sync"

	"github.com/zdu-dev/zdu/steps/step"
)

// Definition describes one load balancer driver.
type Definition struct {
	// Name is what inventories write in `driver:`, e.g. "haproxy".
	Name string
	// Summary is one line for the schema (editors show it) and the docs.
	Summary string
	// Schema is the JSON Schema (draft 2020-12) of the driver's own keys on a
	// load balancer: an object schema whose properties (and required, and
	// any other keyword) join the keys every load balancer has (driver,
	// backend, minHealthy, servers, instances). Empty: the driver has none.
	Schema json.RawMessage
	// InstanceSchema is the same for each of its instances, whose common
	// keys are name and via.
	InstanceSchema json.RawMessage
	// Decode reads the driver's own keys at load time, once the inventory
	// has passed the schema: lb is the load balancer's mapping, instances
	// each instance's, in order. It returns what the driver will need at
	// run time, carried opaquely in step.LoadBalancer.Config and in each
	// step.LBInstance.Config (instanceConfigs is nil or has one entry per
	// instance). Problems go through Fields.Errorf, so they name the file,
	// line and column. Nil: the driver has no keys of its own.
	Decode func(lb Fields, instances []Fields) (config any, instanceConfigs []any)
	// Driver is the driver's behaviour.
	Driver Driver
	// CheckBackend and CheckServer check, at load time, the inventory's
	// backend name and each server name (a value of its servers map)
	// against what the load balancer accepts, so that no name carries a
	// separator into a command, a config file or a log; the error says
	// what is allowed. nil: CheckName (HAProxy's rule for names). A node
	// without a servers entry is its own server name, and node names meet
	// CheckName: a CheckServer must accept at least what CheckName does.
	CheckBackend, CheckServer func(name string) error
	// ServerStates says that the driver's instances report the states of
	// their backend's servers (they are PoolReaders), so minHealthy can be
	// enforced: an inventory that sets minHealthy on a load balancer whose
	// driver cannot is refused at load time.
	ServerStates bool
}

// CheckBackendName checks a backend name with the driver's rule.
func (d Definition) CheckBackendName(name string) error {
	if d.CheckBackend == nil {
		return CheckName(name)
	}
	return d.CheckBackend(name)
}

// CheckServerName checks a server name with the driver's rule.
func (d Definition) CheckServerName(name string) error {
	if d.CheckServer == nil {
		return CheckName(name)
	}
	return d.CheckServer(name)
}

// Fields gives a driver its own keys of one inventory mapping, a load
// balancer or one of its instances, at load time. Like step.Args, it
// records a problem at the value's line and column instead of failing, so
// one validate run reports every problem.
type Fields interface {
	// String returns a key's value as written (never interpolated); "" when
	// the key is absent.
	String(key string) string
	// StringMap returns a mapping of names to strings (e.g. the command
	// driver's commands); nil when the key is absent.
	StringMap(key string) map[string]string
	// Has reports whether the key is present.
	Has(key string) bool
	// Errorf records a problem at key's value, or at the mapping when the
	// key is absent. Key "" is the mapping itself.
	Errorf(key string, format string, args ...any)
}

// Driver acts on the instances of a load balancer for one target. Drain and
// Enable in this package decide the order and what happens on a failure;
// a driver provides the operations on one instance and the waits that look
// at every instance together.
type Driver interface {
	// Open returns the instances of t's load balancer, ready to act on t's
	// server. It changes nothing; an error stops a drain or an enable
	// before anything changed.
	Open(rc step.Context, t Target) ([]Instance, error)
	// WaitIdle runs once the server is out of new traffic on every
	// instance: it waits until the server has no more work (or the plan's
	// timeout action has run). data is what it saw, for the step's result,
	// also on an error; on an error, Drain puts the server back everywhere.
	WaitIdle(ctx context.Context, rc step.Context, t Target, ins []Instance, o DrainOptions) (data map[string]any, err error)
	// ExplainDrain and ExplainEnable list, without touching anything, the exact
	// socket lines, commands and waits Drain and Enable would perform.
	ExplainDrain(rc step.Context, t Target, o DrainOptions) ([]string, error)
	ExplainEnable(rc step.Context, t Target, o EnableOptions) ([]string, error)
}

// Instance is one instance of a load balancer, opened by Driver.Open for
// one target.
type Instance interface {
	// Name is the instance's name in the inventory (data is recorded by it).
	Name() string
	// CheckDrain checks, changing nothing, that the server can be drained
	// here: the instance answers, with enough rights; the server exists.
	// (minHealthy is Drain's to check, through PoolReader.) seen is what is
	// worth recording, by key (e.g. "weights": the server's weight), or
	// nil.
	CheckDrain(ctx context.Context, rc step.Context) (seen map[string]any, err error)
	// Drain takes the server out of new traffic on this instance. When it
	// fails, the instance is left as it was.
	Drain(ctx context.Context, rc step.Context, o DrainOptions) error
	// Enable puts the server back in traffic on this instance, with its
	// weight. Drain also calls it, with EnableOptions holding only Become,
	// to put the server back after a failed drain.
	Enable(ctx context.Context, rc step.Context, o EnableOptions) (seen map[string]any, err error)
}

// EnableChecker is an Instance that can check, changing nothing, that an
// enable can be done on it (e.g. the socket's rights). Enable checks every
// instance first, so a refusal leaves all of them as they were.
type EnableChecker interface {
	CheckEnable(ctx context.Context, rc step.Context) error
}

// DrainChecker is an Instance that can tell, changing nothing, whether the
// server is still held out of new traffic there: a restart or a reload of
// the load balancer may have put it back (drift).
type DrainChecker interface {
	Drained(ctx context.Context, rc step.Context) (bool, error)
}

// UpWaiter is a Driver that can see the server take traffic again: with
// EnableOptions.WaitUp, Enable waits through it once every instance has the
// server back.
type UpWaiter interface {
	WaitUp(ctx context.Context, rc step.Context, t Target, ins []Instance, o EnableOptions) error
}

var (
	mu          sync.RWMutex
	definitions = map[string]Definition{}
	nameRE      = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
)

// Register adds a driver. It panics on programmer errors: a name that is
// empty, badly formed or already taken, no Driver, a schema that is not a
// JSON object, or keys in a schema without a Decode to read them.
func Register(d Definition) {
	if !nameRE.MatchString(d.Name) || d.Driver == nil {
		panic(fmt.Sprintf("lb: Register needs a name (lower-case letters, digits, '-') and a Driver, got %q", d.Name))
	}
	for _, s := range []json.RawMessage{d.Schema, d.InstanceSchema} {
		if len(s) == 0 {
			continue
		}
		var obj map[string]any
		if err := json.Unmarshal(s, &obj); err != nil {
			panic(fmt.Sprintf("lb: driver %s: schema is not a JSON object: %v", d.Name, err))
		}
		if obj["properties"] != nil && d.Decode == nil {
			panic(fmt.Sprintf("lb: driver %s declares keys but has no Decode", d.Name))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := definitions[d.Name]; dup {
		panic(fmt.Sprintf("lb: driver %q registered twice", d.Name))
	}
	definitions[d.Name] = d
}

// Find returns the definition of a driver.
func Find(name string) (Definition, bool) {
	mu.RLock()
	defer mu.RUnlock()
	d, ok := definitions[name]
	return d, ok
}

// Names returns every registered driver's name, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(definitions))
	for n := range definitions {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Lookup returns the driver for an inventory's `driver:` value.
func Lookup(name string) (Driver, error) {
	d, ok := Find(name)
	if !ok {
		return nil, fmt.Errorf("no load balancer driver %q (have %v)", name, Names())
	}
	return d.Driver, nil
}
