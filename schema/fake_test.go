package schema

import "encoding/json"

// fakeSteps stand in for the registered step types: the schema package must
// work with whatever `with` schemas it is given.
var fakeSteps = []StepSchema{
	{Type: "rollback-on", Summary: "arm a rollback rule", Schema: json.RawMessage(`{
  "type": "object", "additionalProperties": false, "required": ["rollback"],
  "properties": {"rollback": {"type": "string"}, "scope": {"enum": ["node", "changed"]}}
}`)},
	{Type: "ssh-exec", Summary: "run a shell command on the node", Schema: json.RawMessage(`{
  "type": "object", "additionalProperties": false, "required": ["command"],
  "properties": {
    "command": {"type": "string", "description": "Shell command."},
    "dir": {"type": "string"},
    "okCodes": {"type": "array", "items": {"type": "integer"}}
  }
}`)},
	{Type: "sleep", Summary: "wait a fixed time", Schema: json.RawMessage(`{
  "type": "object", "additionalProperties": false, "required": ["duration"],
  "properties": {"duration": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$", "patternErrorMessage": "must be a duration such as 5s"}}
}`)},
	{Type: "wait-http", Summary: "poll a URL until it answers", Schema: json.RawMessage(`{
  "type": "object", "additionalProperties": false, "required": ["url"],
  "properties": {
    "url": {"type": "string", "format": "uri"},
    "status": {"type": "integer", "minimum": 100, "maximum": 599},
    "probe": {"oneOf": [
      {"type": "object", "additionalProperties": false, "required": ["http"], "properties": {"http": {"type": "string"}}},
      {"type": "object", "additionalProperties": false, "required": ["tcp"], "properties": {"tcp": {"type": "integer"}}}
    ]}
  }
}`)},
}

// fakeDrivers stand in for the registered load balancer drivers: keys on
// the instances (haproxy), on the load balancer (command), or none (plain).
var fakeDrivers = []DriverSchema{
	{Name: "haproxy", Summary: "runtime API", InstanceSchema: json.RawMessage(`{
  "properties": {
    "socket": {"type": "string", "minLength": 1, "description": "Admin socket."},
    "address": {"type": "string", "pattern": "^[^\\s]+:[0-9]+$", "patternErrorMessage": "must be host:port", "description": "Runtime API address."}
  }
}`)},
	{Name: "command", Summary: "the operator's commands", Schema: json.RawMessage(`{
  "required": ["commands"],
  "properties": {"commands": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Commands by action."}}
}`)},
	{Name: "plain", Summary: "no keys of its own"},
}
