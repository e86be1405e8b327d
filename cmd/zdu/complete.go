package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/engine/sandbox"
)

// cmdComplete is the hidden zdu __complete that the completion scripts
// (zdu completion SHELL) call at each TAB:
//
//	zdu __complete bash LINE CUR   LINE: the command line up to the cursor;
//	                               CUR: bash's word at the cursor, which
//	                               stops at bash's word breaks (= and :)
//	zdu __complete words ARG... CUR   (zsh, fish) the words after zdu,
//	                                  the last the one being completed
//
// It prints one candidate a line, "WORD\tDESCRIPTION" where there is one
// (not for bash). A candidate ending in / = or : is unfinished: the scripts
// add no space after it. It never fails: no candidates is an empty answer.
func cmdComplete(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return exitBadInput
	}
	switch args[0] {
	case "bash":
		if len(args) != 3 {
			return exitBadInput
		}
		words, raw := splitLine(args[1])
		if len(words) == 0 {
			return exitOK
		}
		cur, bashCur := words[len(words)-1], args[2]
		trim := ""
		if strings.HasSuffix(raw, bashCur) {
			trim = raw[:len(raw)-len(bashCur)]
		}
		for _, c := range completeWords(words[1:len(words)-1], cur) {
			w := bashQuote(c.word)
			if !strings.HasPrefix(w, trim) {
				continue
			}
			fmt.Fprintln(stdout, w[len(trim):])
		}
	case "words":
		if len(args) < 2 {
			return exitBadInput
		}
		for _, c := range completeWords(args[1:len(args)-1], args[len(args)-1]) {
			if c.desc != "" {
				fmt.Fprintf(stdout, "%s\t%s\n", c.word, c.desc)
			} else {
				fmt.Fprintln(stdout, c.word)
			}
		}
	default:
		return exitBadInput
	}
	return exitOK
}

type candidate struct{ word, desc string }

// line is what the words before the cursor say: the command, its
// positional arguments and the values of the flags completion reads.
type line struct {
	cmd  string
	fs   *flag.FlagSet
	pos  []string
	vals map[string]string // flag name → last value
}

func (l line) val(names ...string) string {
	for _, n := range names {
		if v := l.vals[n]; v != "" {
			return v
		}
	}
	return ""
}

// plan is the plan file the line names (its first positional argument),
// when the command takes one.
func (l line) plan() string {
	info := l.args()
	for i, p := range l.pos {
		if i < len(info) && info[i].kind == argPlan {
			return p
		}
	}
	return ""
}

// args are the kinds of l's positional arguments.
func (l line) args() []argKind {
	if l.cmd == "sandbox" && len(l.pos) > 0 {
		return append([]argKind{cmdInfos["sandbox"].args[0]}, sandboxArgs[l.pos[0]]...)
	}
	return cmdInfos[l.cmd].args
}

// completeWords returns the candidates for cur, the words before it being
// args (after zdu).
func completeWords(args []string, cur string) []candidate {
	if len(args) == 0 {
		if strings.HasPrefix(cur, "-") {
			return filter(cur, []candidate{{"--help", "the commands"}, {"--version", "the version and VCS revision"}})
		}
		return commandCandidates(cur)
	}
	if args[0] == "help" {
		if len(args) == 1 {
			return commandCandidates(cur)
		}
		return nil
	}
	l := line{cmd: args[0], fs: flagsOf(args[0]), vals: map[string]string{}}
	if l.fs == nil {
		return nil
	}
	var pending *flag.Flag
	rest := args[1:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			l.pos = append(l.pos, rest[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			l.pos = append(l.pos, a)
			continue
		}
		name, v, inline := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := l.fs.Lookup(name)
		switch {
		case f == nil || isBool(f):
		case inline:
			l.vals[name] = v
		case i+1 < len(rest):
			i++
			l.vals[name] = rest[i]
		default:
			pending = f
		}
	}
	if pending != nil {
		return l.value(pending, cur)
	}
	if strings.HasPrefix(cur, "-") {
		if name, v, ok := strings.Cut(strings.TrimLeft(cur, "-"), "="); ok {
			if f := l.fs.Lookup(name); f != nil && !isBool(f) {
				prefix := cur[:len(cur)-len(v)]
				return prefixed(prefix, l.value(f, v))
			}
			return nil
		}
		var out []candidate
		l.fs.VisitAll(func(f *flag.Flag) {
			out = append(out, candidate{dashed(f.Name), firstClause(f.Usage)})
		})
		return filter(cur, out)
	}
	kinds := l.args()
	if len(kinds) == 0 {
		return nil
	}
	k := kinds[len(kinds)-1]
	if len(l.pos) < len(kinds) {
		k = kinds[len(l.pos)]
	}
	return l.complete(k, cur)
}

func commandCandidates(cur string) []candidate {
	var out []candidate
	for _, n := range visibleCommands() {
		out = append(out, candidate{n, cmdInfos[n].summary})
	}
	if i := len(out); i > 0 && out[0].word == "help" {
		out[0].desc = "the commands, or a command's flags"
	}
	return filter(cur, out)
}

// value completes the value of flag f.
func (l line) value(f *flag.Flag, cur string) []candidate {
	k, ok := flagValues[f.Name]
	switch {
	case f.Name == "format":
		k = kind(argWord, formatWords(f)...)
	case !ok:
		k = kind(argFile)
	}
	return l.complete(k, cur)
}

func (l line) complete(k argKind, cur string) []candidate {
	switch k.kind {
	case argFile:
		return files(cur, nil)
	case argPlan:
		return files(cur, func(n string) bool { return strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml") })
	case argDir, argRun:
		return files(cur, func(string) bool { return false })
	case argWord:
		var out []candidate
		for _, w := range k.words {
			out = append(out, candidate{word: w})
		}
		return filter(cur, out)
	case argCommand:
		return commandCandidates(cur)
	case argTemplate:
		var out []candidate
		for _, t := range initTemplates {
			out = append(out, candidate{t.name, t.summary})
		}
		return filter(cur, out)
	case argParam, argParamF:
		name, v, ok := strings.Cut(cur, "=")
		if !ok {
			return filter(cur, planParams(l.plan()))
		}
		if k.kind == argParamF {
			return prefixed(name+"=", files(v, nil))
		}
		return nil
	case argNodeStep:
		node, key, ok := strings.Cut(cur, ":")
		if !ok {
			var out []candidate
			for _, n := range l.nodes() {
				out = append(out, candidate{word: n + ":"})
			}
			return filter(cur, out)
		}
		var out []candidate
		for _, s := range sandbox.FailureKeys {
			out = append(out, candidate{word: s})
		}
		if l.cmd == "rehearse" {
			out = append(out, candidate{"version=errors:", "a bad new version: this share of requests fail"},
				candidate{"version=latency:", "a bad new version: slower by this"})
		}
		return prefixed(node+":", filter(key, out))
	}
	return nil
}

// nodes are the node names --fail and sandbox hold may name: the
// inventory's (-i), else the sandbox's of the plan (rehearse, sandbox up:
// --nodes nodes), else a running sandbox's (sandbox hold|release).
func (l line) nodes() []string {
	if inv := l.val("i", "inventory"); inv != "" {
		return inventoryNodes(inv)
	}
	if l.cmd == "sandbox" && len(l.pos) > 0 && (l.pos[0] == "hold" || l.pos[0] == "release") {
		dir := l.val("dir")
		if dir == "" {
			dir = defaultSandboxDir
		}
		return inventoryNodes(filepath.Join(dir, "inventory.yaml"))
	}
	planFile := l.plan()
	if planFile == "" {
		return nil
	}
	data, err := readInput(planFile)
	if err != nil {
		return nil
	}
	p, probs := load.ParsePlanWith(planFile, data, load.ParseOptions{Library: library()})
	if p == nil || len(probs) > 0 {
		return nil
	}
	n, _ := strconv.Atoi(l.val("nodes"))
	cfg, err := sandbox.Shape(p, sandbox.ShapeOptions{Nodes: n})
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range cfg.Nodes {
		out = append(out, s.Name)
	}
	return out
}

// planParams reads the params of the plan in file, as NAME= with their
// descriptions. It reads the YAML only, so a plan still being written
// (with problems validate would report) completes too.
func planParams(file string) []candidate {
	var doc struct {
		Params yaml.Node `yaml:"params"`
	}
	if !readYAML(file, &doc) || doc.Params.Kind != yaml.MappingNode {
		return nil
	}
	var out []candidate
	for i := 0; i+1 < len(doc.Params.Content); i += 2 {
		var p struct {
			Description string `yaml:"description"`
			Type        string `yaml:"type"`
			Secret      bool   `yaml:"secret"`
		}
		_ = doc.Params.Content[i+1].Decode(&p)
		desc := p.Description
		if desc == "" {
			desc = p.Type
		}
		if p.Secret {
			desc = "(secret) " + desc
		}
		out = append(out, candidate{doc.Params.Content[i].Value + "=", desc})
	}
	return out
}

// inventoryNodes reads the node names of the inventory in file.
func inventoryNodes(file string) []string {
	var doc struct {
		Nodes []struct {
			Name string `yaml:"name"`
		} `yaml:"nodes"`
	}
	if !readYAML(file, &doc) {
		return nil
	}
	var out []string
	for _, n := range doc.Nodes {
		if n.Name != "" {
			out = append(out, n.Name)
		}
	}
	return out
}

func readYAML(file string, v any) bool {
	if file == "" {
		return false
	}
	data, err := readInput(expandHome(file))
	return err == nil && yaml.Unmarshal(data, v) == nil
}

// files lists the entries of cur's directory whose names start with cur's
// last element: directories (with a trailing /) and the files keep accepts
// (all files when keep is nil). Hidden entries only when asked for.
func files(cur string, keep func(string) bool) []candidate {
	dir, base := filepath.Split(cur)
	ents, err := os.ReadDir(expandHome(orDot(dir)))
	if err != nil {
		return nil
	}
	var out []candidate
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, base) || (strings.HasPrefix(n, ".") && !strings.HasPrefix(base, ".")) {
			continue
		}
		isDir := e.IsDir()
		if e.Type()&os.ModeSymlink != 0 {
			if fi, err := os.Stat(filepath.Join(expandHome(orDot(dir)), n)); err == nil {
				isDir = fi.IsDir()
			}
		}
		switch {
		case isDir:
			out = append(out, candidate{word: dir + n + "/"})
		case keep == nil || keep(n):
			out = append(out, candidate{word: dir + n})
		}
	}
	return out
}

func orDot(dir string) string {
	if dir == "" {
		return "."
	}
	return dir
}

// expandHome reads ~/ as the home directory, as the shell would have.
func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

func filter(prefix string, cs []candidate) []candidate {
	var out []candidate
	for _, c := range cs {
		if strings.HasPrefix(c.word, prefix) {
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].word < out[j].word })
	return out
}

func prefixed(prefix string, cs []candidate) []candidate {
	for i := range cs {
		cs[i].word = prefix + cs[i].word
	}
	return cs
}

// firstClause shortens a flag's usage for a completion menu.
func firstClause(u string) string {
	if i := strings.IndexAny(u, ";("); i > 0 {
		u = u[:i]
	}
	return strings.TrimSpace(u)
}

// splitLine splits a shell command line the way the shell would, far
// enough for completion: blanks separate words, quotes and backslashes
// quote. The last word is the one under the cursor ("" after a blank);
// raw is its text as typed.
func splitLine(s string) (words []string, raw string) {
	var (
		w       strings.Builder
		start   = 0
		inWord  bool
		quote   byte
		escaped bool
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			w.WriteByte(c)
			escaped = false
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' && i+1 < len(s) && strings.IndexByte(`"\$`+"`", s[i+1]) >= 0 {
				i++
				w.WriteByte(s[i])
			} else {
				w.WriteByte(c)
			}
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
			continue
		case c == '\\':
			escaped = true
		case c == '\'' || c == '"':
			quote = c
		default:
			w.WriteByte(c)
		}
		if !inWord {
			inWord, start = true, i
		}
	}
	if inWord {
		return append(words, w.String()), s[start:]
	}
	return append(words, ""), ""
}

// bashQuote escapes what bash would otherwise split or expand.
func bashQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(" \t'\"\\$`!&;|<>()*?[]{}#", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
