package spec

import "gopkg.in/yaml.v3"

// Inventory is an inventory file as written.
type Inventory struct {
	File          string            `yaml:"-"`
	APIVersion    Value[string]     `yaml:"apiVersion"`
	Kind          Value[string]     `yaml:"kind"`
	Defaults      NodeDefaults      `yaml:"defaults"`
	SSH           SSH               `yaml:"ssh"`
	State         State             `yaml:"state"`
	Vars          Vars              `yaml:"vars"`
	Groups        Map[Group]        `yaml:"groups"`
	Nodes         []Node            `yaml:"nodes"`
	LoadBalancers Map[LoadBalancer] `yaml:"loadBalancers"`
}

// NodeDefaults apply to every node that does not set the key itself.
type NodeDefaults struct {
	User      Value[string] `yaml:"user"`
	Port      Value[int]    `yaml:"port"`
	Transport Value[string] `yaml:"transport"`
}

// State names where runs keep their locks and records (a team's etcd).
type State struct {
	Etcd Value[string] `yaml:"etcd"`
}

// SSH holds the inventory-wide SSH settings.
type SSH struct {
	KnownHosts      Values[string] `yaml:"knownHosts"`
	IdentityFiles   Values[string] `yaml:"identityFiles"`
	TrustOnFirstUse Value[bool]    `yaml:"trustOnFirstUse"`
	ConnectTimeout  Value[string]  `yaml:"connectTimeout"`
	KeepAlive       Value[string]  `yaml:"keepAlive"`
	KeepAliveCount  Value[int]     `yaml:"keepAliveCount"`
	Config          Value[string]  `yaml:"config"`
	ProxyJump       Value[string]  `yaml:"proxyJump"`
}

// Group is a named set of nodes; membership is declared on the nodes.
type Group struct {
	Vars Vars `yaml:"vars"`
}

// Node is one machine.
type Node struct {
	Name      Value[string]  `yaml:"name"`
	Host      Value[string]  `yaml:"host"`
	Port      Value[int]     `yaml:"port"`
	User      Value[string]  `yaml:"user"`
	Transport Value[string]  `yaml:"transport"`
	Groups    Values[string] `yaml:"groups"`
	Vars      Vars           `yaml:"vars"`
	ProxyJump Value[string]  `yaml:"proxyJump"`
	Pos       Pos            `yaml:"-"`
}

// UnmarshalYAML keeps the node's position.
func (n *Node) UnmarshalYAML(y *yaml.Node) error {
	type plain Node
	if err := y.Decode((*plain)(n)); err != nil {
		return err
	}
	n.Pos = PosOf(y)
	return nil
}

// LoadBalancer is one logical load balancer and its instances: the keys
// every driver has. The driver's own keys stay in Node, for the driver to
// read (see package lb's Fields).
type LoadBalancer struct {
	Driver     Value[string]      `yaml:"driver"`
	Backend    Value[string]      `yaml:"backend"`
	MinHealthy Amount             `yaml:"minHealthy"`
	Servers    Map[Value[string]] `yaml:"servers"`
	Instances  []LBInstance       `yaml:"instances"`
	Node       *yaml.Node         `yaml:"-"`
	Pos        Pos                `yaml:"-"`
}

// UnmarshalYAML keeps the load balancer's mapping and position.
func (l *LoadBalancer) UnmarshalYAML(y *yaml.Node) error {
	type plain LoadBalancer
	if err := y.Decode((*plain)(l)); err != nil {
		return err
	}
	l.Node, l.Pos = y, PosOf(y)
	return nil
}

// LBInstance is one load balancer process (e.g. one of two nodes under
// keepalived). Like a load balancer's, its driver's own keys stay in Node.
type LBInstance struct {
	Name Value[string] `yaml:"name"`
	Via  Value[string] `yaml:"via"`
	Node *yaml.Node    `yaml:"-"`
	Pos  Pos           `yaml:"-"`
}

// UnmarshalYAML keeps the instance's mapping and position.
func (l *LBInstance) UnmarshalYAML(y *yaml.Node) error {
	type plain LBInstance
	if err := y.Decode((*plain)(l)); err != nil {
		return err
	}
	l.Node, l.Pos = y, PosOf(y)
	return nil
}
