package load

import (
	"fmt"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/zdu-dev/zdu/engine/spec"
	"github.com/zdu-dev/zdu/schema"
)

// Imports (`import:` of a whole plan, `- import: FILE` + `phase: ID` in
// phases) are resolved at load time, before templates are expanded: the
// imported plan's params, phases and rollbacks are copied into the plan's
// YAML with the overrides applied, and what comes out is an ordinary plan.
// Each node copied keeps where it was written (nodeFrom), so that problems,
// expressions' places and the dry run point into the file that wrote it.

// maxImportDepth bounds how deep plans import plans.
const maxImportDepth = 16

// nodeFrom says where a node of the merged plan was written: the file, its
// path there, and the imports that brought it (outermost first).
type nodeFrom struct {
	file string
	src  *source
	path string
	via  []Site
}

// importer resolves a plan's imports.
type importer struct {
	top   string
	res   *resolver
	probs []schema.Problem
	from  map[*yaml.Node]*nodeFrom
	cache map[string]*importedPlan
	// notes say, by a path in the top plan, what the import there names in
	// the imported file: appended to the schema's problems at that path.
	notes map[string]string
	// shown names each file read, by its absolute path, as it was found.
	shown map[string]string
	// sites are the imports that led to the file being merged, outermost
	// first: a problem in it notes them.
	sites []Site
}

// importedPlan is a plan file read for an import, its own imports merged.
type importedPlan struct {
	file string
	root *yaml.Node
}

// hasImports reports whether a plan document imports anything.
func hasImports(doc *yaml.Node) bool {
	root := docRoot(doc)
	if mapValue(root, "import") != nil {
		return true
	}
	if phases := mapValue(root, "phases"); phases != nil && phases.Kind == yaml.SequenceNode {
		for _, ph := range phases.Content {
			if mapValue(ph, "import") != nil {
				return true
			}
		}
	}
	return false
}

func docRoot(doc *yaml.Node) *yaml.Node {
	if doc != nil && doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		return doc.Content[0]
	}
	return doc
}

// resolveImports replaces the plan document's imports by what they import.
func resolveImports(file string, data []byte, doc *yaml.Node, res *resolver) *importer {
	im := &importer{top: file, res: res, from: map[*yaml.Node]*nodeFrom{}, cache: map[string]*importedPlan{}, notes: map[string]string{}, shown: map[string]string{}}
	root := docRoot(doc)
	if root == nil || root.Kind != yaml.MappingNode {
		return im
	}
	im.annotate(file, newSource(data), root)
	merged := im.merge(file, root, []string{absOf(file)})
	*root = *merged
	return im
}

// load reads, checks and merges the plan an import names (at n, in file).
func (im *importer) load(file string, n *yaml.Node, chain []string) *importedPlan {
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag != "!!str" || n.Value == "" {
		return nil // the schema says what is wrong
	}
	at := spec.PosOf(n)
	if len(chain) > maxImportDepth {
		im.at(file, at, "plans import each other more than %d deep", maxImportDepth)
		return nil
	}
	path, ok := im.res.find(filepath.Dir(file), n.Value)
	if !ok {
		im.at(file, at, "plan %q not found beside %s%s", n.Value, file, im.res.lookedIn())
		return nil
	}
	abs := absOf(path)
	if _, ok := im.shown[abs]; !ok {
		im.shown[abs] = path
	}
	for i, c := range chain {
		if c == abs {
			names := append(append([]string(nil), chain[i:]...), abs)
			for k := range names {
				names[k] = im.rel(names[k])
			}
			im.at(file, at, "plans import each other in a cycle: %s", strings.Join(names, " -> "))
			return nil
		}
	}
	if p, ok := im.cache[abs]; ok {
		return p
	}
	im.cache[abs] = nil // a problem below is reported once
	data, err := im.res.read(path, MaxTemplateSize)
	if err != nil {
		im.at(file, at, "cannot read imported plan %s: %v", path, unwrapPathErr(err))
		return nil
	}
	site := Site{File: file, Pos: at, Uses: n.Value}
	doc, ps := schema.Decode(path, data)
	if len(ps) == 0 {
		root := docRoot(doc)
		if k := mapValue(root, "kind"); k != nil && k.Value == "Template" {
			im.at(file, at, "%s is a template (kind: Template at %s:%d:%d): use it in a step (uses:), import only plans", path, path, k.Line, k.Column)
			return nil
		}
		v, err := planValidator()
		if err != nil {
			im.at(path, spec.Pos{Line: 1, Col: 1}, "internal: plan schema: %v", err)
			return nil
		}
		ps = v.Validate(path, doc)
	}
	if len(ps) > 0 {
		for i := range ps {
			ps[i].Msg += viaNote(append(append([]Site(nil), im.sites...), site))
		}
		im.probs = append(im.probs, ps...)
		return nil
	}
	root := docRoot(doc)
	im.annotate(path, newSource(data), root)
	im.sites = append(im.sites, site)
	p := &importedPlan{file: path, root: im.merge(path, root, append(chain, abs))}
	im.sites = im.sites[:len(im.sites)-1]
	im.cache[abs] = p
	return p
}

// rel names a file for a message as it was found (the top plan: as given).
func (im *importer) rel(abs string) string {
	if abs == absOf(im.top) {
		return im.top
	}
	if p, ok := im.shown[abs]; ok {
		return p
	}
	return abs
}

// at records a problem in the file being merged, noting the imports that
// led to it.
func (im *importer) at(file string, pos spec.Pos, format string, args ...any) {
	im.probs = append(im.probs, schema.Problem{File: file, Line: pos.Line, Col: pos.Col, Msg: fmt.Sprintf(format, args...) + viaNote(im.sites)})
}

// siteIn is where in file a node of the merged plan comes from: the node
// itself when file wrote it, else the import in file that brought it.
func (im *importer) siteIn(file string, n *yaml.Node) spec.Pos {
	if f := im.from[n]; f != nil && f.file != file {
		for _, s := range f.via {
			if s.File == file {
				return s.Pos
			}
		}
	}
	return spec.PosOf(n)
}

// where is FILE:LINE:COL of a node of the merged plan.
func (im *importer) where(n *yaml.Node) string {
	file := im.top
	if f := im.from[n]; f != nil {
		file = f.file
	}
	return fmt.Sprintf("%s:%d:%d", file, n.Line, n.Column)
}

// fileOf is the file that wrote a node of the merged plan.
func (im *importer) fileOf(n *yaml.Node) string {
	if f := im.from[n]; f != nil {
		return f.file
	}
	return im.top
}

// annotate records where each part of a plan file is written: params,
// phases and their keys and steps, rollbacks, the import and its
// overrides, and the plan-wide keys an import brings.
func (im *importer) annotate(file string, src *source, root *yaml.Node) {
	mark := func(n *yaml.Node, path string) {
		if n != nil {
			im.from[n] = &nodeFrom{file: file, src: src, path: path}
		}
	}
	pairs := func(m *yaml.Node, prefix string, each func(k, v *yaml.Node, path string)) {
		if m == nil || m.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			path := prefix + "." + k.Value
			mark(k, path)
			mark(v, path)
			if each != nil {
				each(k, v, path)
			}
		}
	}
	list := func(l *yaml.Node, path string) {
		if l == nil || l.Kind != yaml.SequenceNode {
			return
		}
		for j, st := range l.Content {
			mark(st, fmt.Sprintf("%s[%d]", path, j))
		}
	}
	phase := func(ph *yaml.Node, path string) {
		mark(ph, path)
		pairs(ph, path, func(k, v *yaml.Node, p string) {
			switch k.Value {
			case "steps", "replace":
				list(v, p)
			case "before", "after":
				pairs(v, p, func(_, l *yaml.Node, lp string) { list(l, lp) })
			case "params":
				pairs(v, p, nil)
			}
		})
	}
	for _, key := range []string{"gates", "errorBudget", "rollbackExitCode"} {
		mark(mapValue(root, key), key)
	}
	pairs(mapValue(root, "params"), "params", nil)
	pairs(mapValue(root, "rollbacks"), "rollbacks", func(_, v *yaml.Node, p string) { list(v, p) })
	if phases := mapValue(root, "phases"); phases != nil && phases.Kind == yaml.SequenceNode {
		for i, ph := range phases.Content {
			phase(ph, fmt.Sprintf("phases[%d]", i))
		}
	}
	imp := mapValue(root, "import")
	mark(imp, "import")
	pairs(imp, "import", func(k, v *yaml.Node, p string) {
		switch k.Value {
		case "params":
			pairs(v, p, nil)
		case "phases":
			pairs(v, p, func(_, ph *yaml.Node, pp string) { phase(ph, pp) })
		case "rollbacks":
			pairs(v, p, func(_, l *yaml.Node, lp string) { list(l, lp) })
		}
	})
}

// copyFrom deep-copies a node of an imported plan for the plan importing
// it at site: each copied node keeps where it was written, and notes the
// import.
func (im *importer) copyFrom(n *yaml.Node, site Site) *yaml.Node {
	if n == nil {
		return nil
	}
	c := *n
	if f := im.from[n]; f != nil {
		g := *f
		g.via = append([]Site{site}, f.via...)
		im.from[&c] = &g
	}
	if len(n.Content) > 0 {
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, x := range n.Content {
			c.Content[i] = im.copyFrom(x, site)
		}
	}
	return &c
}

// origins places the merged plan's parts by their path in it, once
// templates are expanded: what an imported file wrote, and what the plan
// wrote where its path differs from the file's (a step added to an
// imported phase). A template's expanded steps keep their own origins.
func (im *importer) origins(doc *yaml.Node, into map[string]*Origin) {
	root := docRoot(doc)
	put := func(n *yaml.Node, path string) {
		f := im.from[n]
		if f == nil || (f.file == im.top && f.path == path) {
			return
		}
		if _, ok := into[path]; ok {
			return
		}
		into[path] = &Origin{File: f.file, Pos: spec.PosOf(n), Via: f.via, src: f.src, path: f.path, own: f.file == im.top}
	}
	each := func(m *yaml.Node, prefix string, fn func(v *yaml.Node, path string)) {
		if m == nil || m.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			path := prefix + "." + m.Content[i].Value
			put(m.Content[i+1], path)
			if fn != nil {
				fn(m.Content[i+1], path)
			}
		}
	}
	list := func(l *yaml.Node, path string) {
		if l != nil && l.Kind == yaml.SequenceNode {
			for j, st := range l.Content {
				put(st, fmt.Sprintf("%s[%d]", path, j))
			}
		}
	}
	for _, key := range []string{"gates", "errorBudget", "rollbackExitCode"} {
		put(mapValue(root, key), key)
	}
	each(mapValue(root, "params"), "params", func(v *yaml.Node, p string) { each(v, p, nil) })
	each(mapValue(root, "rollbacks"), "rollbacks", list)
	if phases := mapValue(root, "phases"); phases != nil && phases.Kind == yaml.SequenceNode {
		for i, ph := range phases.Content {
			path := fmt.Sprintf("phases[%d]", i)
			put(ph, path)
			each(ph, path, func(v *yaml.Node, p string) {
				if strings.HasSuffix(p, ".steps") {
					list(v, p)
				}
			})
		}
	}
}

// annotateSchema adds to the schema's problems in the plan what the import
// at their path names in the imported file.
func (im *importer) annotateSchema(ps []schema.Problem) {
	for i, p := range ps {
		if p.File != im.top {
			continue
		}
		for path := p.Path; path != ""; {
			if n, ok := im.notes[path]; ok {
				ps[i].Msg += n
				break
			}
			k := strings.LastIndexAny(path, ".[")
			if k <= 0 {
				break
			}
			path = path[:k]
		}
	}
}
