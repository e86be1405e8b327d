package load

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/zdu-dev/zdu/engine/spec"
)

// override applies an importing plan's changes (ov, written in file at
// path) to a copy of an imported phase: a phase key replaces the phase's
// whole; replace puts a step in the place of the step of its id; before and
// after add steps next to the step they name. item: ov is a phase import
// (`- import: FILE`), which also takes import, phase, id and params.
func (im *importer) override(file, path string, ph, ov *yaml.Node, item bool) {
	if ov == nil || ov.Kind != yaml.MappingNode || ph == nil || ph.Kind != yaml.MappingNode {
		return
	}
	phaseID := ""
	if id := mapValue(ph, "id"); id != nil {
		phaseID = id.Value
	}
	steps := mapValue(ph, "steps")
	if steps == nil || steps.Kind != yaml.SequenceNode {
		return // the imported plan's schema said so
	}
	allowed := append(append([]string(nil), phaseKeys...), stepEdits...)
	if item {
		allowed = append(allowed, "import", "phase", "id", "params")
	}
	for i := 0; i+1 < len(ov.Content); i += 2 {
		k, v := ov.Content[i], ov.Content[i+1]
		switch {
		case slices.Contains(phaseKeys, k.Value) || (item && k.Value == "id"):
			setKey(ph, k, v)
		case item && (k.Value == "import" || k.Value == "phase" || k.Value == "params"):
		case k.Value == "replace":
			if v.Kind != yaml.SequenceNode {
				continue
			}
			for _, st := range v.Content {
				id := mapValue(st, "id")
				if id == nil {
					continue
				}
				if j := im.stepIndex(file, id, id.Value, phaseID, ph, steps); j >= 0 {
					steps.Content[j] = st
				}
			}
		case k.Value == "before" || k.Value == "after":
			if v.Kind != yaml.MappingNode {
				continue
			}
			for a := 0; a+1 < len(v.Content); a += 2 {
				at, add := v.Content[a], v.Content[a+1]
				j := im.stepIndex(file, at, at.Value, phaseID, ph, steps)
				if j < 0 || add.Kind != yaml.SequenceNode {
					continue
				}
				if k.Value == "after" {
					j++
				}
				var fresh []*yaml.Node
				for _, st := range add.Content {
					if im.newStepID(file, st, phaseID, steps) {
						fresh = append(fresh, st)
					}
				}
				steps.Content = slices.Insert(steps.Content, j, fresh...)
			}
		default:
			im.at(file, spec.PosOf(k), "%s: an imported phase's override takes %s, not %q%s (phase %s is at %s)",
				path, strings.Join(allowed, ", "), k.Value, suggest(k.Value, allowed), phaseID, im.where(ph))
		}
	}
}

// stepIndex is the index in steps of the step with id name, or -1 after a
// problem at n naming the phase and its steps.
func (im *importer) stepIndex(file string, n *yaml.Node, name, phaseID string, ph, steps *yaml.Node) int {
	var ids []string
	for j, st := range steps.Content {
		if id := mapValue(st, "id"); id != nil {
			if id.Value == name {
				return j
			}
			ids = append(ids, id.Value)
		}
	}
	im.at(file, spec.PosOf(n), "phase %s (at %s) has no step %q%s; its steps: %s", phaseID, im.where(ph), name, suggest(name, ids), strings.Join(ids, ", "))
	return -1
}

// newStepID reports whether a step added to an imported phase has an id
// of its own there.
func (im *importer) newStepID(file string, st *yaml.Node, phaseID string, steps *yaml.Node) bool {
	id := mapValue(st, "id")
	if id == nil {
		return true // the schema says it needs one
	}
	for _, old := range steps.Content {
		if o := mapValue(old, "id"); o != nil && o.Value == id.Value {
			im.at(file, spec.PosOf(id), "phase %s already has a step %q (at %s): an added step needs an id of its own (replace: puts a step in another's place)", phaseID, id.Value, im.where(old))
			return false
		}
	}
	return true
}

// setKey sets key k of mapping m to v, in place of its value or added.
func setKey(m, k, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == k.Value {
			m.Content[i], m.Content[i+1] = k, v
			return
		}
	}
	m.Content = append(m.Content, k, v)
}

// setDefaults gives imported params (those of g) the defaults an import
// writes (ps, in file at prefix): each of the param's type, and a param
// given one is no longer required. A secret param takes none.
func (im *importer) setDefaults(file, prefix string, ps *yaml.Node, m *merged, g *importedPlan) {
	if ps == nil || ps.Kind != yaml.MappingNode {
		return
	}
	declared := mapKeys(mapValue(g.root, "params"))
	for i := 0; i+1 < len(ps.Content); i += 2 {
		k, v := ps.Content[i], ps.Content[i+1]
		var e *entry
		for j := range m.params {
			if m.params[j].k.Value == k.Value && slices.Contains(declared, k.Value) {
				e = &m.params[j]
			}
		}
		if e == nil {
			im.at(file, spec.PosOf(k), "%s declares no param %q%s; its params: %s", g.file, k.Value, suggest(k.Value, declared), strings.Join(declared, ", "))
			continue
		}
		var sp spec.Param
		if e.v.Kind != yaml.MappingNode || e.v.Decode(&sp) != nil {
			continue // the imported plan's schema said so
		}
		typ := sp.Type.V
		if typ == "" {
			typ = "string"
		}
		p := Param{Name: k.Value, Kind: paramKinds[typ], Values: sp.EnumValues.Strings()}
		switch _, err := ParseParamNode(p, v); {
		case sp.Secret.V:
			im.at(file, spec.PosOf(v), "param %s is secret (declared at %s): its value comes from --set, --set-file or its env, never from a plan", k.Value, im.where(e.k))
			continue
		case err != nil:
			im.at(file, spec.PosOf(v), "the default of param %v (declared at %s as %s)", err, im.where(e.k), typ)
			continue
		}
		if prev := m.defaults[k.Value]; prev != nil {
			im.at(file, spec.PosOf(v), "param %s is given a default at %s already", k.Value, im.where(prev))
			continue
		}
		m.defaults[k.Value] = v
		im.note(file, prefix+"."+k.Value, fmt.Sprintf(" (param %s is declared at %s)", k.Value, im.where(e.k)))
		c := *e.v
		c.Content = nil
		for j := 0; j+1 < len(e.v.Content); j += 2 {
			switch e.v.Content[j].Value {
			case "default", "required":
			default:
				c.Content = append(c.Content, e.v.Content[j], e.v.Content[j+1])
			}
		}
		c.Content = append(c.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "default", Line: k.Line, Column: k.Column}, v)
		im.from[&c] = im.from[e.v]
		e.v = &c
	}
}

// note records, for the top plan only, what the import at path names.
func (im *importer) note(file, path, text string) {
	if file == im.top {
		im.notes[path] = text
	}
}
