package load

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/zdu-dev/zdu/engine/spec"
)

// What an import brings, and what the importing plan may change of it
// (docs/plan-language.md, Imports):
//
//   - params: the imported plan's, then the plan's own (a name declared
//     twice is an error); `params:` of the import gives one a new default;
//   - phases: a whole import's, then the plan's own, where a phase import
//     stands for one phase; an override replaces a phase key whole, and
//     replace/before/after change its steps by id;
//   - rollbacks: the imported plan's, then the plan's own; a whole import
//     may replace one by name;
//   - gates, errorBudget, rollbackExitCode: the whole import's, unless the
//     plan writes its own.

// phaseKeys are the keys of a phase an override may replace.
var phaseKeys = []string{"title", "targets", "strategy", "when", "exitCode", "maxFailures", "canary", "allowEmpty"}

// stepEdits are the override keys that change a phase's steps.
var stepEdits = []string{"replace", "before", "after"}

// entry is a key and its value in a merged mapping.
type entry struct{ k, v *yaml.Node }

// merged is what a plan file comes to once its imports are merged.
type merged struct {
	params, rollbacks []entry
	phases            []*yaml.Node
	planWide          map[string]entry // gates, errorBudget, rollbackExitCode
	// defaults says, by param name, where an import gave it a default.
	defaults map[string]*yaml.Node
	// brought are the plan files whose params and rollbacks m holds.
	brought map[string]bool
}

// merge returns file's root with its imports merged in.
func (im *importer) merge(file string, root *yaml.Node, chain []string) *yaml.Node {
	m := &merged{planWide: map[string]entry{}, defaults: map[string]*yaml.Node{}, brought: map[string]bool{}}
	if imp := mapValue(root, "import"); imp != nil && imp.Kind == yaml.MappingNode {
		im.wholeImport(file, imp, m, chain)
	}
	im.addParams(file, m, mapValue(root, "params"))
	if phases := mapValue(root, "phases"); phases != nil && phases.Kind == yaml.SequenceNode {
		for i, ph := range phases.Content {
			if mapValue(ph, "import") == nil {
				m.phases = append(m.phases, ph)
				continue
			}
			if got := im.phaseImport(file, fmt.Sprintf("phases[%d]", i), ph, m, chain); got != nil {
				m.phases = append(m.phases, got)
			}
		}
	}
	im.addRollbacks(file, m, mapValue(root, "rollbacks"))
	for _, key := range []string{"gates", "errorBudget", "rollbackExitCode"} {
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == key {
				m.planWide[key] = entry{root.Content[i], root.Content[i+1]}
			}
		}
	}
	im.checkPhaseIDs(file, m.phases)

	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: root.Line, Column: root.Column}
	add := func(k, v *yaml.Node) { out.Content = append(out.Content, k, v) }
	key := func(name string, line, col int) *yaml.Node {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: name, Line: line, Column: col}
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch k := root.Content[i]; k.Value {
		case "import", "params", "phases", "rollbacks", "gates", "errorBudget", "rollbackExitCode":
		default:
			add(k, root.Content[i+1])
		}
	}
	if len(m.params) > 0 {
		ps := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: root.Line, Column: root.Column}
		for _, e := range m.params {
			ps.Content = append(ps.Content, e.k, e.v)
		}
		add(key("params", root.Line, root.Column), ps)
	}
	phases := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: m.phases, Line: root.Line, Column: root.Column}
	if p := mapValue(root, "phases"); p != nil {
		phases.Line, phases.Column = p.Line, p.Column
	}
	add(key("phases", phases.Line, phases.Column), phases)
	if len(m.rollbacks) > 0 {
		rbs := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: root.Line, Column: root.Column}
		for _, e := range m.rollbacks {
			rbs.Content = append(rbs.Content, e.k, e.v)
		}
		add(key("rollbacks", root.Line, root.Column), rbs)
	}
	for _, name := range []string{"gates", "errorBudget", "rollbackExitCode"} {
		if e, ok := m.planWide[name]; ok {
			add(e.k, e.v)
		}
	}
	return out
}

// wholeImport brings an imported plan's params, phases, rollbacks and
// plan-wide keys into m, with the import's overrides.
func (im *importer) wholeImport(file string, imp *yaml.Node, m *merged, chain []string) {
	planNode := mapValue(imp, "plan")
	g := im.load(file, planNode, chain)
	if g == nil {
		return
	}
	site := Site{File: file, Pos: spec.PosOf(planNode), Uses: planNode.Value}
	im.note(file, "import", fmt.Sprintf(" (importing %s)", g.file))
	root := im.copyFrom(g.root, site)
	m.brought[g.file] = true
	im.addParams(file, m, mapValue(root, "params"))
	im.setDefaults(file, "import.params", mapValue(imp, "params"), m, g)
	var phases []*yaml.Node
	if l := mapValue(root, "phases"); l != nil {
		phases = l.Content
	}
	byID := map[string]*yaml.Node{}
	var ids []string
	for _, ph := range phases {
		if id := mapValue(ph, "id"); id != nil {
			byID[id.Value] = ph
			ids = append(ids, id.Value)
		}
	}
	if ov := mapValue(imp, "phases"); ov != nil && ov.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(ov.Content); i += 2 {
			k, v := ov.Content[i], ov.Content[i+1]
			ph, ok := byID[k.Value]
			if !ok {
				im.at(file, spec.PosOf(k), "%s has no phase %q to override%s; its phases: %s", g.file, k.Value, suggest(k.Value, ids), strings.Join(ids, ", "))
				continue
			}
			im.note(file, "import.phases."+k.Value, fmt.Sprintf(" (overriding phase %s at %s)", k.Value, im.where(ph)))
			im.override(file, "import.phases."+k.Value, ph, v, false)
		}
	}
	m.phases = append(m.phases, phases...)
	rbs := mapValue(root, "rollbacks")
	if ov := mapValue(imp, "rollbacks"); ov != nil && ov.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(ov.Content); i += 2 {
			k, v := ov.Content[i], ov.Content[i+1]
			found := false
			if rbs != nil && rbs.Kind == yaml.MappingNode {
				for j := 0; j+1 < len(rbs.Content); j += 2 {
					if rbs.Content[j].Value == k.Value {
						rbs.Content[j+1], found = v, true
						im.note(file, "import.rollbacks."+k.Value, fmt.Sprintf(" (replacing rollback %s at %s)", k.Value, im.where(rbs.Content[j])))
					}
				}
			}
			if !found {
				names := mapKeys(rbs)
				im.at(file, spec.PosOf(k), "%s has no rollback %q to replace%s; its rollbacks: %s", g.file, k.Value, suggest(k.Value, names), strings.Join(names, ", "))
			}
		}
	}
	im.addRollbacks(file, m, rbs)
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch k := root.Content[i]; k.Value {
		case "gates", "errorBudget", "rollbackExitCode":
			m.planWide[k.Value] = entry{k, root.Content[i+1]}
		}
	}
}

// phaseImport returns the phase a `- import: FILE` item of phases stands
// for, and brings its plan's params and rollbacks into m.
func (im *importer) phaseImport(file, path string, item *yaml.Node, m *merged, chain []string) *yaml.Node {
	fileNode, idNode := mapValue(item, "import"), mapValue(item, "phase")
	g := im.load(file, fileNode, chain)
	if g == nil || idNode == nil || idNode.Kind != yaml.ScalarNode {
		return nil
	}
	site := Site{File: file, Pos: spec.PosOf(fileNode), Uses: fileNode.Value}
	var ph *yaml.Node
	var ids []string
	if l := mapValue(g.root, "phases"); l != nil {
		for _, p := range l.Content {
			if id := mapValue(p, "id"); id != nil {
				ids = append(ids, id.Value)
				if id.Value == idNode.Value {
					ph = p
				}
			}
		}
	}
	if ph == nil {
		im.at(file, spec.PosOf(idNode), "%s has no phase %q%s; its phases: %s", g.file, idNode.Value, suggest(idNode.Value, ids), strings.Join(ids, ", "))
		return nil
	}
	im.note(file, path, fmt.Sprintf(" (importing phase %s at %s)", idNode.Value, im.where(ph)))
	// The params and rollbacks of a plan imported several times come once.
	if !m.brought[g.file] {
		m.brought[g.file] = true
		root := im.copyFrom(g.root, site)
		im.addParams(file, m, mapValue(root, "params"))
		im.addRollbacks(file, m, mapValue(root, "rollbacks"))
	}
	im.setDefaults(file, path+".params", mapValue(item, "params"), m, g)
	ph = im.copyFrom(ph, site)
	im.override(file, path, ph, item, true)
	return ph
}

// addParams appends a params mapping's entries to m; a name already there
// from another file is an error at the later one.
func (im *importer) addParams(file string, m *merged, ps *yaml.Node) {
	im.addEntries(file, &m.params, ps, func(had, k *yaml.Node) string {
		if im.fileOf(had) == im.fileOf(k) {
			return ""
		}
		return fmt.Sprintf("param %s is declared at %s and at %s; an importing plan gives an imported param a new default with its import's params: instead of declaring it again", k.Value, im.where(had), im.where(k))
	})
}

// addRollbacks appends a rollbacks mapping's entries to m; a name already
// there is an error at the later one.
func (im *importer) addRollbacks(file string, m *merged, rbs *yaml.Node) {
	im.addEntries(file, &m.rollbacks, rbs, func(had, k *yaml.Node) string {
		if im.fileOf(had) == im.fileOf(k) && had.Line == k.Line {
			return ""
		}
		return fmt.Sprintf("rollback %s is declared at %s and at %s; a whole import replaces an imported rollback with its import's rollbacks:", k.Value, im.where(had), im.where(k))
	})
}

// addEntries appends mapping n's entries to *into, but not a name already
// there: for that, clash (given the key there and the new one) says what
// is wrong at the later one, or "" when it is the same entry again.
func (im *importer) addEntries(file string, into *[]entry, n *yaml.Node, clash func(had, k *yaml.Node) string) {
	if n == nil || n.Kind != yaml.MappingNode {
		return
	}
next:
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		for _, e := range *into {
			if e.k.Value != k.Value {
				continue
			}
			if msg := clash(e.k, k); msg != "" {
				im.at(file, im.siteIn(file, k), "%s", msg)
			}
			continue next
		}
		*into = append(*into, entry{k, v})
	}
}

// checkPhaseIDs refuses two phases of one id in file's merged plan, at
// the later phase (or the import in file that brought it).
func (im *importer) checkPhaseIDs(file string, phases []*yaml.Node) {
	seen := map[string]*yaml.Node{}
	for _, ph := range phases {
		id := mapValue(ph, "id")
		if id == nil {
			continue
		}
		if prev, dup := seen[id.Value]; dup {
			what := "it"
			if im.fileOf(id) != file {
				what = "the phase imported from " + im.where(id)
			}
			im.at(file, im.siteIn(file, id), "phase id %q is already used at %s; give %s another id (a phase import takes id:)", id.Value, im.where(prev), what)
			continue
		}
		seen[id.Value] = id
	}
}

func mapKeys(m *yaml.Node) []string {
	var out []string
	if m != nil && m.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(m.Content); i += 2 {
			out = append(out, m.Content[i].Value)
		}
	}
	return out
}
