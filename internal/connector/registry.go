package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
)

// Spec declares one connector type: its name, its settings, and how to validate
// settings and open a connection. Validation, `concord connectors`, the JSON Schema
// and the docs all come from the spec.
type Spec struct {
	// Name is the connector type used in the config file (`connector: sql`).
	Name string
	// Summary is one sentence for docs and --help.
	Summary string
	// Fields documents the top-level settings.
	Fields []Field
	// Validate checks settings without side effects and returns every problem,
	// each a *SettingError naming the setting's path. Secrets are already resolved.
	Validate func(settings map[string]any) []error
	// Open decodes the settings and connects. It must not leak resources when it
	// fails.
	Open func(ctx context.Context, p OpenParams) (Connector, error)
}

// Field documents one setting of a connector.
type Field struct {
	Name        string
	Type        string // string, int, bool, duration, map, list
	Description string
	Default     string
	Example     string
	Required    bool
	// Secret settings must be given as a reference (env:NAME or file:PATH), never inline.
	Secret bool
}

// OpenParams are what a connector gets when opened.
type OpenParams struct {
	// System is the configured system name, for logs and errors.
	System string
	// Settings are the system's settings with secret references resolved.
	Settings map[string]any
	// Logger is already scoped to the system.
	Logger *slog.Logger
	// Dir is the directory of the config file: connectors resolve relative file
	// paths in their settings against it. Empty means the working directory.
	Dir string
	// ReadOnly is set by callers that only look (`concord doctor`, `concord
	// init`): Open must not change the system (HubSpot: no link property is
	// created).
	ReadOnly bool
	// Budgets, when set, shares the rate budgets of external accounts with
	// the other processes on the store (see Budgets); nil: each process keeps
	// its own.
	Budgets Budgets
}

// SettingError is a problem with one setting, named by its dotted path below the
// system's settings (for example "entities.account.table").
type SettingError struct {
	Path string
	Msg  string
	// Key is true when the problem is the last key of Path itself (an unknown
	// key): the config points at the key, not at its value.
	Key bool
	// Meant is, for an unknown key, the known key of its level it is most
	// probably a misspelling of, when that key is not given: the config then
	// leaves out problems about the missing key ("table: required" after
	// "tabel"), which the misspelling explains.
	Meant string
}

// Error implements error.
func (e *SettingError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Registry holds the connector types a process knows. Build one with NewRegistry
// and register connectors explicitly (internal/connector/all does it for the binary).
type Registry struct {
	mu    sync.RWMutex
	specs map[string]Spec
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{specs: map[string]Spec{}} }

// Register adds spec. It panics on a duplicate or empty name: that is a
// programming error, found at start-up.
func (r *Registry) Register(spec Spec) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if spec.Name == "" || spec.Open == nil {
		panic("connector: Register needs a name and an Open func")
	}
	if _, dup := r.specs[spec.Name]; dup {
		panic("connector: duplicate registration of " + spec.Name)
	}
	r.specs[spec.Name] = spec
}

// Lookup returns the spec registered under name.
func (r *Registry) Lookup(name string) (Spec, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.specs[name]
	return s, ok
}

// Names returns the registered connector names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.specs))
	for n := range r.specs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Specs returns the registered specs in name order.
func (r *Registry) Specs() []Spec {
	var out []Spec
	for _, n := range r.Names() {
		s, _ := r.Lookup(n)
		out = append(out, s)
	}
	return out
}

// HasField reports whether the spec declares a top-level setting called name.
func (s Spec) HasField(name string) bool {
	return slices.ContainsFunc(s.Fields, func(f Field) bool { return f.Name == name })
}

// DecodeShorthand decodes a setting that is either a bare string (passed to
// short) or an object decoded strictly into full (unknown keys refused). It is
// for UnmarshalJSON methods of mappings such as `name: company_name` versus
// `credit_limit: {column: credit_limit, currency: USD}`; full must not be the
// type whose UnmarshalJSON calls it (use a plain alias type).
func DecodeShorthand(b []byte, short func(string), full any) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		short(s)
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(full); err != nil {
		return fmt.Errorf("field mapping: %w", err)
	}
	return nil
}
