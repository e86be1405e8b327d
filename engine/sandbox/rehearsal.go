package sandbox

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zdu-dev/zdu/engine/safefile"
	"github.com/zdu-dev/zdu/schema"
)

// The rehearsal file, PLAN.rehearsal.yaml beside a plan, tells the sandbox
// what it cannot guess about the product: stand-ins for its commands, the
// param or var that carries its service port, its health path, the
// versions, the vars the plan reads, and which commands may run for real.

//go:embed rehearsal.schema.json
var rehearsalSchema []byte

// RehearsalSchema is the JSON Schema of a rehearsal file (zdu schema rehearsal).
func RehearsalSchema() []byte { return rehearsalSchema }

// MaxRehearsalSize bounds a rehearsal file.
const MaxRehearsalSize = 1 << 20

// Rehearsal is a loaded rehearsal file.
type Rehearsal struct {
	// File is where it was read ("" for the default).
	File string
	// PortVar is the param or var set to each node's service port ("":
	// none); HealthPath the path the plan polls for health.
	PortVar, HealthPath    string
	OldVersion, NewVersion string
	Vars                   map[string]any
	Data                   map[string]string
	// Builtins: the built-in stand-in scripts cover their commands.
	Builtins bool
	StandIns []StandIn
	Allow    []Pattern
	// LBDriver and LBInstances shape the load balancer without an
	// inventory ("" and 0: haproxy, 1).
	LBDriver    string
	LBInstances int
}

// StandIn answers a command instead of running it.
type StandIn struct {
	Name     string
	Command  Pattern
	Exit     int
	Output   string
	Stderr   string
	Duration time.Duration
	Effect   string
}

// Pattern is a command pattern: * any text, ? one character; the rest
// literal. At is where it was written (FILE:LINE:COL).
type Pattern struct {
	Text string
	At   string
	re   *regexp.Regexp
}

// DefaultRehearsal is what a plan without a rehearsal file gets: the
// built-in stand-ins, and nothing else.
func DefaultRehearsal() *Rehearsal { return &Rehearsal{Builtins: true, HealthPath: "/health"} }

// RehearsalFile names the rehearsal file of plan: PLAN without .yaml/.yml,
// then .rehearsal.yaml.
func RehearsalFile(plan string) string {
	base := strings.TrimSuffix(strings.TrimSuffix(plan, ".yaml"), ".yml")
	return base + ".rehearsal.yaml"
}

// FindRehearsal loads the rehearsal file beside plan, or returns the
// default when there is none.
func FindRehearsal(plan string) (*Rehearsal, []schema.Problem) {
	file := RehearsalFile(plan)
	data, err := safefile.Read(file, MaxRehearsalSize)
	if errors.Is(err, fs.ErrNotExist) {
		return DefaultRehearsal(), nil
	}
	if err != nil {
		return nil, []schema.Problem{{File: file, Msg: err.Error()}}
	}
	return ParseRehearsal(file, data)
}

var (
	rehearsalValidator     *schema.Validator
	rehearsalValidatorErr  error
	rehearsalValidatorOnce sync.Once
)

// rehearsalSpec is the file as written.
type rehearsalSpec struct {
	Service struct {
		Port   string `yaml:"port"`
		Health string `yaml:"health"`
	} `yaml:"service"`
	Versions struct {
		Old string `yaml:"old"`
		New string `yaml:"new"`
	} `yaml:"versions"`
	Vars     map[string]any `yaml:"vars"`
	Data     map[string]any `yaml:"data"`
	Builtins *bool          `yaml:"builtins"`
	StandIns []struct {
		Name     string `yaml:"name"`
		Command  string `yaml:"command"`
		Exit     int    `yaml:"exit"`
		Output   string `yaml:"output"`
		Stderr   string `yaml:"stderr"`
		Duration string `yaml:"duration"`
		Effect   string `yaml:"effect"`
	} `yaml:"standins"`
	Allow        []string `yaml:"allow"`
	LoadBalancer struct {
		Driver    string `yaml:"driver"`
		Instances int    `yaml:"instances"`
	} `yaml:"loadBalancer"`
}

// ParseRehearsal checks data against the rehearsal schema and reads it;
// every problem names FILE:LINE:COL.
func ParseRehearsal(file string, data []byte) (*Rehearsal, []schema.Problem) {
	rehearsalValidatorOnce.Do(func() {
		rehearsalValidator, rehearsalValidatorErr = schema.Compile("rehearsal.schema.json", rehearsalSchema)
	})
	if rehearsalValidatorErr != nil {
		panic(rehearsalValidatorErr) // the embedded schema is ours
	}
	doc, probs := schema.Decode(file, data)
	if len(probs) > 0 {
		return nil, probs
	}
	if probs := rehearsalValidator.Validate(file, doc); len(probs) > 0 {
		return nil, probs
	}
	var sp rehearsalSpec
	if err := doc.Decode(&sp); err != nil {
		return nil, []schema.Problem{{File: file, Line: 1, Col: 1, Msg: err.Error()}}
	}
	pos := schema.Index(doc)
	at := func(ptr string) string {
		l, c := pos.ValuePos(ptr)
		return fmt.Sprintf("%s:%d:%d", file, l, c)
	}
	problem := func(ptr, format string, args ...any) schema.Problem {
		l, c := pos.ValuePos(ptr)
		return schema.Problem{File: file, Line: l, Col: c, Path: pos.Path(ptr), Msg: fmt.Sprintf(format, args...)}
	}
	r := &Rehearsal{File: file, PortVar: sp.Service.Port, HealthPath: sp.Service.Health,
		OldVersion: sp.Versions.Old, NewVersion: sp.Versions.New, Vars: sp.Vars, Data: map[string]string{},
		Builtins: sp.Builtins == nil || *sp.Builtins, LBDriver: sp.LoadBalancer.Driver, LBInstances: sp.LoadBalancer.Instances}
	if r.HealthPath == "" {
		r.HealthPath = "/health"
	}
	for k, v := range sp.Data {
		r.Data[k] = fmt.Sprint(v)
	}
	if r.OldVersion != "" && r.OldVersion == r.NewVersion {
		probs = append(probs, problem("/versions/new", "the new version is the old one: a rehearsal could not tell them apart"))
	}
	if _, ok := r.Vars[r.PortVar]; ok && r.PortVar != "" {
		probs = append(probs, problem("/vars/"+r.PortVar, "%s is service.port: the sandbox sets it to each node's port", r.PortVar))
	}
	names := map[string]bool{}
	for i, s := range sp.StandIns {
		ptr := "/standins/" + strconv.Itoa(i)
		st := StandIn{Name: s.Name, Exit: s.Exit, Output: s.Output, Stderr: s.Stderr, Effect: s.Effect,
			Command: NewPattern(s.Command, at(ptr+"/command"))}
		if s.Duration != "" {
			d, err := time.ParseDuration(s.Duration)
			if err != nil || d > 10*time.Minute {
				probs = append(probs, problem(ptr+"/duration", "%q: want a duration up to 10m, such as 2s", s.Duration))
			}
			st.Duration = d
		}
		if s.Name != "" {
			// A built-in key may be shared: --fail NODE:KEY fails whichever
			// stand-in answers.
			if names[s.Name] || s.Name == HealthFault || s.Name == ServiceStart {
				probs = append(probs, problem(ptr+"/name", "name %q is taken (by another stand-in, or --fail NODE:health, or the service-start hold)", s.Name))
			}
			names[s.Name] = true
		}
		if bad := placeholders(s.Output+s.Stderr, r.Data); bad != "" {
			probs = append(probs, problem(ptr, "unknown placeholder {%s} in output: want {installed}, {old}, {new}, {node} or {data.NAME} of data", bad))
		}
		r.StandIns = append(r.StandIns, st)
	}
	for i, a := range sp.Allow {
		r.Allow = append(r.Allow, NewPattern(a, at("/allow/"+strconv.Itoa(i))))
	}
	if len(probs) > 0 {
		return nil, schema.SortProblems(probs)
	}
	return r, nil
}

var placeholderRE = regexp.MustCompile(`\{([A-Za-z0-9_.-]+)\}`)

// placeholders returns the first {NAME} in s that is not known.
func placeholders(s string, data map[string]string) string {
	for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
		switch name := m[1]; {
		case name == "installed" || name == "old" || name == "new" || name == "node":
		case strings.HasPrefix(name, "data.") && data[strings.TrimPrefix(name, "data.")] != "":
		default:
			return name
		}
	}
	return ""
}

// NewPattern compiles a command pattern written at at.
func NewPattern(text, at string) Pattern {
	var b strings.Builder
	b.WriteString(`(?s)^`)
	for _, r := range text {
		switch r {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`$`)
	return Pattern{Text: text, At: at, re: regexp.MustCompile(b.String())}
}

// Match reports whether the command (unwrapped, see Unwrap) matches: as
// written, or with its quotes taken off.
func (p Pattern) Match(command string) bool {
	if p.re.MatchString(command) {
		return true
	}
	if plain, ok := dequote(command); ok && plain != command {
		return p.re.MatchString(plain)
	}
	return false
}

// FailureKeys are the failure keys the rehearsal's stand-ins add.
func (r *Rehearsal) FailureKeys() []string {
	var out []string
	for _, s := range r.StandIns {
		if s.Name != "" {
			out = append(out, s.Name)
		}
	}
	return out
}
