// Package config loads and validates concord's configuration file.
//
// A config file is one YAML document (see docs/config.md) that names the owner
// of the integration, where the store lives, the systems to connect, which system
// owns each synced field, and the flows that move records between systems.
//
// Load reads a file, resolves secret references (env:NAME, file:PATH), and checks
// everything it can without touching the network: unknown keys, wrong types,
// unknown connectors and their settings, inline secrets, field ownership, and the
// consistency of every flow. It reports all problems at once, as an *Error whose
// Problems each carry the file, line and column of the offending YAML node.
//
// Schema returns the JSON Schema of the file, for editors and `concord schema`.
// The same schema drives the unknown-key checks of Load, so the two cannot
// disagree about which keys exist.
package config
