package spec

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// DecodePlan turns a parsed plan document into the model. The document should
// have passed the schema; a shape it cannot decode is still an error, never a panic.
func DecodePlan(file string, doc *yaml.Node) (*Plan, error) {
	p := &Plan{File: file}
	if err := decodeDoc(doc, p); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return p, nil
}

// DecodeInventory turns a parsed inventory document into the model.
func DecodeInventory(file string, doc *yaml.Node) (*Inventory, error) {
	inv := &Inventory{File: file}
	if err := decodeDoc(doc, inv); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return inv, nil
}

func decodeDoc(doc *yaml.Node, out any) error {
	n := doc
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return fmt.Errorf("the document must be a mapping")
	}
	return n.Decode(out)
}
