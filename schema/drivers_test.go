package schema

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// inventorySchema composes the inventory schema with the fake drivers.
func inventorySchema(t testing.TB) []byte {
	t.Helper()
	out, err := InventorySchema(fakeDrivers)
	if err != nil {
		t.Fatalf("InventorySchema: %v", err)
	}
	return out
}

func TestInventorySchemaGolden(t *testing.T) {
	got := inventorySchema(t)
	checkGolden(t, "inventory.golden.json", got)
	reversed := []DriverSchema{fakeDrivers[2], fakeDrivers[1], fakeDrivers[0]}
	again, err := InventorySchema(reversed)
	if err != nil || !bytes.Equal(again, got) {
		t.Errorf("the drivers' order changed the schema (%v)", err)
	}
}

// The base schema names no driver: the drivers bring their names and keys.
func TestBaseInventorySchemaNamesNoDriver(t *testing.T) {
	base := string(baseInventorySchema())
	for _, word := range []string{"haproxy", "HAProxy", "nginx", "socket", "upstream", "commands"} {
		if strings.Contains(base, word) {
			t.Errorf("schema/inventory.json mentions %q", word)
		}
	}
}

func TestInventorySchemaRejectsBadDrivers(t *testing.T) {
	tests := []struct {
		name    string
		drivers []DriverSchema
		want    string
	}{
		{"empty name", []DriverSchema{{}}, `driver ""`},
		{"upper case", []DriverSchema{{Name: "HAProxy"}}, `driver "HAProxy"`},
		{"reserved", []DriverSchema{{Name: "any"}}, `(and not "any")`},
		{"twice", []DriverSchema{{Name: "x"}, {Name: "x"}}, `"x" is given twice`},
		{"generic key", []DriverSchema{{Name: "x", InstanceSchema: json.RawMessage(`{"properties": {"via": {"type": "string"}}}`)}}, `"via" is a key every load balancer has`},
		{"not JSON", []DriverSchema{{Name: "x", Schema: json.RawMessage(`{`)}}, "driver x: its schema is not a JSON object"},
		{"not a schema", []DriverSchema{{Name: "x", Schema: json.RawMessage(`{"properties": {"k": {"type": "strng"}}}`)}}, "composing the inventory schema"},
	}
	for _, tc := range tests {
		if _, err := InventorySchema(tc.drivers); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// Each load balancer is checked against its own driver's keys, at the
// line and column of the key.
func TestInventorySchemaChecksDriverKeys(t *testing.T) {
	v, err := Compile("inventory.json", inventorySchema(t))
	if err != nil {
		t.Fatal(err)
	}
	const head = "apiVersion: zdu/v1\nnodes: [{name: a}]\nloadBalancers:\n  web:\n"
	tests := []struct {
		name, lb string
		want     []want
	}{
		{"haproxy", "    driver: haproxy\n    instances:\n      - {name: lb1, socket: /s}\n      - {name: lb2, address: \"127.0.0.1:9\"}\n", nil},
		{"command", "    driver: command\n    commands: {enable: a, disable: b}\n", nil},
		{"plain", "    driver: plain\n    backend: app\n", nil},
		{"another driver's key", "    driver: haproxy\n    instances:\n      - {name: lb1, socket: /s, commands: x}\n",
			[]want{{7, 33, "loadBalancers.web.instances[0].commands", `unknown key "commands"; allowed keys: address, name, socket, via`}}},
		{"a key on the wrong level", "    driver: command\n    commands: {enable: a}\n    socket: /s\n",
			[]want{{7, 5, "loadBalancers.web.socket", `unknown key "socket"; allowed keys: backend, commands, driver, instances, minHealthy, servers`}}},
		{"the driver's required key", "    driver: command\n",
			[]want{{5, 5, "loadBalancers.web", `missing required key "commands"`}}},
		{"the driver's own rule", "    driver: haproxy\n    instances:\n      - {address: nope}\n",
			[]want{{7, 19, "loadBalancers.web.instances[0].address", `must be host:port (got "nope")`}}},
		{"no keys of its own", "    driver: plain\n    instances:\n      - {name: lb1, socket: /s}\n",
			[]want{{7, 21, "loadBalancers.web.instances[0].socket", `unknown key "socket"; allowed keys: name, via`}}},
		{"unknown driver", "    driver: haproxi\n    instances:\n      - {name: lb1, sockett: /s}\n", []want{
			{5, 13, "loadBalancers.web.driver", `unknown load balancer driver "haproxi" (did you mean "haproxy"?)`},
			{7, 21, "loadBalancers.web.instances[0].sockett", `unknown key "sockett" (did you mean "socket"?)`}}},
		{"no driver", "    backend: app\n    comands: {}\n", []want{
			{5, 5, "loadBalancers.web", `missing required key "driver"`},
			{6, 5, "loadBalancers.web.comands", `unknown key "comands" (did you mean "commands"?)`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, problems := Decode("inv.yaml", []byte(head+tc.lb))
			if doc == nil {
				t.Fatal(problems)
			}
			checkWants(t, "inv.yaml", v.Validate("inv.yaml", doc), tc.want)
		})
	}
}
