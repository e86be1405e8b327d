package load

import (
	"fmt"
	"strings"
	"time"

	"github.com/zdu-dev/zdu/engine/spec"
	"github.com/zdu-dev/zdu/schema"
	"github.com/zdu-dev/zdu/steps/lb"
	"github.com/zdu-dev/zdu/steps/step"
	"gopkg.in/yaml.v3"
)

// Inventory is a loaded, checked inventory.
type Inventory struct {
	File   string
	Nodes  []*Node
	ByName map[string]*Node
	// Groups maps a group name to its nodes, in inventory order.
	Groups map[string][]*Node
	SSH    SSHSettings
	// State is the inventory's state: etcd URL ("": none; --state rules).
	State string
	LBs   map[string]step.LoadBalancer
	// GroupPos remembers where each group is declared or first used.
	GroupPos map[string]spec.Pos
}

// Node is one inventory node with its variables merged.
type Node struct {
	Name, Host string
	Port       int
	User       string
	Transport  string // ssh or local
	ProxyJump  string
	Groups     []string
	// Vars is inventory vars < group vars (in the node's group order) < node vars.
	Vars map[string]any
	// VarPos is where each var of Vars was set, for problems about its value.
	VarPos map[string]spec.Pos
	Pos    spec.Pos
}

// SSHSettings are the inventory-wide SSH settings, resolved.
type SSHSettings struct {
	KnownHosts      []string
	IdentityFiles   []string
	TrustOnFirstUse bool
	ConnectTimeout  time.Duration
	KeepAlive       time.Duration
	KeepAliveCount  int
	Config          string
	ProxyJump       string
}

// ParseInventory loads an inventory from its bytes.
func ParseInventory(file string, data []byte) (*Inventory, []schema.Problem) {
	return parseInventory(file, data, false)
}

// parseInventory is ParseInventory; generic sends every node the generic
// way (the whole file parsed at once, every node checked by the schema and
// decoded by spec), which the tests hold the quick way to.
func parseInventory(file string, data []byte, generic bool) (*Inventory, []schema.Problem) {
	probs := &Problems{File: file}
	var in inventoryYAML
	var ps []schema.Problem
	if generic {
		in.doc, ps = schema.Decode(file, data)
	} else {
		in, ps = parseInventoryYAML(file, data)
	}
	if len(ps) > 0 {
		return nil, Sorted(ps)
	}
	doc := in.doc
	v, err := inventoryValidator()
	if err != nil {
		probs.At(spec.Pos{Line: 1, Col: 1}, "", "internal: inventory schema: %v", err)
		return nil, probs.List
	}
	schemaProbs := v.ValidateExcept(file, doc, in.checked)
	si, err := decodeInventory(file, doc, in.nodes, in.plain)
	in, doc = inventoryYAML{}, nil // the YAML can go now
	if err != nil {
		if len(schemaProbs) > 0 {
			return nil, Sorted(schemaProbs)
		}
		probs.At(spec.Pos{Line: 1, Col: 1}, "", "%v", err)
		return nil, probs.List
	}
	shape := &Problems{File: file}
	inv := buildInventory(si, probs, shape)
	if len(shape.List) > 0 && len(schemaProbs) > 0 {
		// A value of the wrong shape for its driver, like one the model
		// cannot decode: the schema's words say what is wrong.
		return nil, Sorted(schemaProbs)
	}
	if all := merge(schemaProbs, append(probs.List, shape.List...)); len(all) > 0 {
		return nil, all
	}
	return inv, nil
}

// plainNodes decodes the plainly valid items of the nodes list (see
// plainNode): when plain[i], nodes[i] is item i decoded. checked maps
// those items to the schema's stand-in.
func plainNodes(doc *yaml.Node) (nodes []spec.Node, plain []bool, checked map[*yaml.Node]any) {
	seq := nodesList(doc)
	if seq == nil {
		return nil, nil, nil
	}
	nodes = make([]spec.Node, len(seq.Content))
	plain = make([]bool, len(seq.Content))
	checked = make(map[*yaml.Node]any, len(seq.Content))
	all := true
	for i, item := range seq.Content {
		if nodes[i], plain[i] = plainNode(item); plain[i] {
			checked[item] = nodeStandIn
			item.Content = nil // decoded: its YAML is no longer needed
		} else {
			all = false
		}
	}
	if all {
		// The schema asks of the list only that it is not empty (and of
		// each node what plainNode checked): one stand-in says as much,
		// and costs the schema one node, not a hundred thousand.
		checked = map[*yaml.Node]any{seq: []any{nodeStandIn}}
	}
	return nodes, plain, checked
}

// nodesList returns the document's nodes list, when it is written as a
// list in the root mapping (not through an alias), or nil.
func nodesList(doc *yaml.Node) *yaml.Node {
	root := doc
	if root != nil && root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root == nil || root.Kind != yaml.MappingNode {
		return nil
	}
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if k := root.Content[i]; k.Kind == yaml.ScalarNode && k.Value == "nodes" {
			if list != nil {
				return nil // written twice: the schema's to report
			}
			list = root.Content[i+1]
		}
	}
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil
	}
	return list
}

// decodeInventory decodes the document into the model, where nodes[i] is
// already decoded when plain[i]: spec decodes the rest from a copy of the
// root mapping whose nodes list holds only the others.
func decodeInventory(file string, doc *yaml.Node, nodes []spec.Node, plain []bool) (*spec.Inventory, error) {
	seq := nodesList(doc)
	if seq == nil || len(plain) != len(seq.Content) {
		return spec.DecodeInventory(file, doc)
	}
	others := *seq
	others.Content = nil
	for i, item := range seq.Content {
		if !plain[i] {
			others.Content = append(others.Content, item)
		}
	}
	root := *doc
	if doc.Kind == yaml.DocumentNode {
		root = *doc.Content[0]
	}
	root.Content = append([]*yaml.Node(nil), root.Content...)
	for i := 1; i < len(root.Content); i += 2 {
		if root.Content[i] == seq {
			root.Content[i] = &others
		}
	}
	si, err := spec.DecodeInventory(file, &root)
	if err != nil {
		return nil, err
	}
	// spec's decoding leaves out an item it cannot decode into a node (an
	// empty one, a scalar), as the generic way does: each decoded node is
	// matched with its item by position.
	rest, kept := si.Nodes, 0
	for i, item := range seq.Content {
		if !plain[i] {
			if len(rest) == 0 || rest[0].Pos != spec.PosOf(resolveAlias(item)) {
				continue // left out
			}
			nodes[i], rest = rest[0], rest[1:]
		}
		nodes[kept] = nodes[i]
		kept++
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("%s: internal: %d nodes decoded out of place", file, len(rest))
	}
	si.Nodes = nodes[:kept]
	return si, nil
}

// resolveAlias follows an alias to the value it stands for.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for depth := 0; n.Kind == yaml.AliasNode && n.Alias != nil && depth < 100; depth++ {
		n = n.Alias
	}
	return n
}

func buildInventory(si *spec.Inventory, probs, shape *Problems) *Inventory {
	inv := &Inventory{
		File: si.File, ByName: map[string]*Node{}, Groups: map[string][]*Node{},
		LBs: map[string]step.LoadBalancer{}, GroupPos: map[string]spec.Pos{},
	}
	inv.SSH = sshSettings(si.SSH, probs)
	inv.State = si.State.Etcd.V
	checkVars(si.Vars, func() string { return "vars" }, probs)
	// The declared groups by name, looked up for every group of every node.
	groups := make(map[string]spec.Group, len(si.Groups.Keys))
	for i, name := range si.Groups.Keys {
		checkVars(si.Groups.Values[i].Vars, func() string { return "groups." + name.V + ".vars" }, probs)
		inv.GroupPos[name.V] = name.Pos
		inv.Groups[name.V] = nil
		if _, dup := groups[name.V]; !dup {
			groups[name.V] = si.Groups.Values[i]
		}
	}
	inv.Nodes = make([]*Node, 0, len(si.Nodes))
	inv.ByName = make(map[string]*Node, len(si.Nodes))
	for i, sn := range si.Nodes {
		// Made only for a problem: a hundred thousand nodes have none.
		path := func(field string) string { return fmt.Sprintf("nodes[%d]%s", i, field) }
		if CheckNodeName(sn.Name.V) != nil {
			checkName(probs, sn.Name.Pos, path(".name"), "node name", sn.Name.V, CheckNodeName)
		}
		checkVars(sn.Vars, func() string { return path(".vars") }, probs)
		if prev, dup := inv.ByName[sn.Name.V]; dup {
			probs.At(sn.Name.Pos, path(".name"), "node %q is already defined at line %d", sn.Name.V, prev.Pos.Line)
			continue
		}
		n := buildNode(si, groups, sn)
		inv.Nodes = append(inv.Nodes, n)
		inv.ByName[n.Name] = n
		for _, g := range sn.Groups.Items {
			if g.V == "all" {
				probs.At(g.Pos, path(".groups"), `"all" is every node; it cannot be a group name`)
				continue
			}
			if _, ok := inv.GroupPos[g.V]; !ok {
				inv.GroupPos[g.V] = g.Pos
			}
			inv.Groups[g.V] = append(inv.Groups[g.V], n)
		}
	}
	for i, name := range si.LoadBalancers.Keys {
		inv.LBs[name.V] = buildLB(inv, name.V, si.LoadBalancers.Values[i], probs, shape)
	}
	return inv
}

func buildNode(si *spec.Inventory, groups map[string]spec.Group, sn spec.Node) *Node {
	n := &Node{
		Name: sn.Name.V, Host: sn.Host.V, Port: 22, User: si.Defaults.User.V, Transport: "ssh",
		ProxyJump: sn.ProxyJump.V, Groups: sn.Groups.Strings(), Pos: sn.Pos,
	}
	size := len(si.Vars.Names) + len(sn.Vars.Names)
	for _, g := range sn.Groups.Items {
		size += len(groups[g.V].Vars.Names)
	}
	n.Vars, n.VarPos = make(map[string]any, size), make(map[string]spec.Pos, size)
	if n.Host == "" {
		n.Host = n.Name
	}
	if si.Defaults.Port.Set {
		n.Port = si.Defaults.Port.V
	}
	if sn.Port.Set {
		n.Port = sn.Port.V
	}
	if sn.User.Set {
		n.User = sn.User.V
	}
	if si.Defaults.Transport.Set {
		n.Transport = si.Defaults.Transport.V
	}
	if sn.Transport.Set {
		n.Transport = sn.Transport.V
	}
	merge := func(v spec.Vars) {
		for _, k := range v.Names {
			val := v.Values[k.V]
			if _, set := n.Vars[k.V]; set && val == nil {
				continue // a var written with no value does not undo a lower level's
			}
			n.Vars[k.V] = val
			n.VarPos[k.V] = k.Pos
		}
	}
	merge(si.Vars)
	for _, g := range n.Groups {
		if gs, ok := groups[g]; ok {
			merge(gs.Vars)
		}
	}
	merge(sn.Vars)
	return n
}

func sshSettings(s spec.SSH, probs *Problems) SSHSettings {
	out := SSHSettings{
		KnownHosts: s.KnownHosts.Strings(), IdentityFiles: s.IdentityFiles.Strings(),
		TrustOnFirstUse: s.TrustOnFirstUse.V, Config: s.Config.V, ProxyJump: s.ProxyJump.V,
		ConnectTimeout: 10 * time.Second, KeepAlive: 5 * time.Second, KeepAliveCount: 3,
	}
	if s.KeepAliveCount.Set {
		out.KeepAliveCount = s.KeepAliveCount.V
	}
	dur := func(v spec.Value[string], path string, into *time.Duration) {
		if !v.Set {
			return
		}
		d, err := time.ParseDuration(v.V)
		if err != nil || d <= 0 {
			probs.At(v.Pos, path, "%q is not a positive duration (use Go syntax: 10s, 1m)", v.V)
			return
		}
		*into = d
	}
	dur(s.ConnectTimeout, "ssh.connectTimeout", &out.ConnectTimeout)
	dur(s.KeepAlive, "ssh.keepAlive", &out.KeepAlive)
	return out
}

// buildLB builds the generic part of a load balancer, then has its driver
// read its own keys (see lb.Definition.Decode). A driver the registry does
// not have is the schema's to report: its enum lists the registered ones.
func buildLB(inv *Inventory, name string, sl spec.LoadBalancer, probs, shape *Problems) step.LoadBalancer {
	path := "loadBalancers." + name
	l := step.LoadBalancer{
		Name: name, Driver: sl.Driver.V, Backend: sl.Backend.V,
		MinHealthy: sl.MinHealthy.N, MinHealthyPercent: sl.MinHealthy.Percent,
		Servers: map[string]string{},
	}
	def, known := lb.Find(l.Driver)
	if known && sl.Backend.Set {
		checkName(probs, sl.Backend.Pos, path+".backend", "backend name", l.Backend, def.CheckBackendName)
	}
	for i, k := range sl.Servers.Keys {
		if _, ok := inv.ByName[k.V]; !ok {
			probs.At(k.Pos, path+".servers", "no node named %q in this inventory%s", k.V, probs.suggest(k.V, func() []string { return nodeNames(inv) }))
		}
		server := sl.Servers.Values[i]
		if known {
			checkName(probs, server.Pos, path+".servers."+k.V, "server name", server.V, def.CheckServerName)
		}
		l.Servers[k.V] = server.V
	}
	seen := map[string]bool{}
	var instances []lb.Fields
	for i, si := range sl.Instances {
		ipath := fmt.Sprintf("%s.instances[%d]", path, i)
		in := step.LBInstance{Name: si.Name.V, Via: si.Via.V}
		if in.Name == "" {
			in.Name = fmt.Sprintf("%s-%d", name, i+1)
		} else {
			checkName(probs, si.Name.Pos, ipath+".name", "instance name", in.Name, CheckNodeName)
		}
		if seen[in.Name] {
			probs.At(si.Name.Pos, ipath+".name", "instance %q is listed twice", in.Name)
		}
		seen[in.Name] = true
		if si.Via.Set {
			if _, ok := inv.ByName[in.Via]; !ok {
				probs.At(si.Via.Pos, ipath+".via", "no node named %q in this inventory%s", in.Via, probs.suggest(in.Via, func() []string { return nodeNames(inv) }))
			}
		}
		l.Instances = append(l.Instances, in)
		instances = append(instances, newFields(si.Node, si.Pos, ipath, probs, shape))
	}
	if known && l.MinHealthy > 0 && !def.ServerStates {
		probs.At(sl.MinHealthy.Pos, path+".minHealthy",
			"the %s driver cannot see the states of its servers, so minHealthy cannot be enforced: remove it (or use a driver that can: %s)",
			l.Driver, strings.Join(stateDrivers(), ", "))
	}
	if !known || def.Decode == nil {
		return l
	}
	config, configs := def.Decode(newFields(sl.Node, sl.Pos, path, probs, shape), instances)
	l.Config = config
	for i, c := range configs {
		if i < len(l.Instances) {
			l.Instances[i].Config = c
		}
	}
	return l
}

// stateDrivers lists the drivers that can enforce minHealthy.
func stateDrivers() []string {
	var out []string
	for _, n := range lb.Names() {
		if d, _ := lb.Find(n); d.ServerStates {
			out = append(out, n)
		}
	}
	return out
}

func nodeNames(inv *Inventory) []string {
	out := make([]string, 0, len(inv.Nodes))
	for _, n := range inv.Nodes {
		out = append(out, n.Name)
	}
	return out
}
