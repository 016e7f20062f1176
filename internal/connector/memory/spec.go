package memory

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
)

// Name is the connector type in the config file (`connector: memory`).
const Name = "memory"

// Setting names.
const (
	SettingEntities = "entities"
)

// Settings are the memory connector's settings.
type Settings struct {
	// Entities are the canonical entities the system holds.
	Entities []model.Entity `json:"entities"`
}

// errNoEntities is reported by Validate when settings list no entity.
var errNoEntities = errors.New("list at least one canonical entity")

// Hub holds named Conns so that every Open of the same system name in one process
// shares one Conn, and tests and benchmarks can seed and inspect it. It is safe
// for concurrent use.
type Hub struct {
	mu    sync.Mutex
	conns map[string]*Conn
}

// NewHub returns an empty Hub.
func NewHub() *Hub { return &Hub{conns: map[string]*Conn{}} }

// Conn returns the Conn called name, creating it when absent, and makes sure it
// holds entities.
func (h *Hub) Conn(name string, entities ...model.Entity) *Conn {
	h.mu.Lock()
	c, ok := h.conns[name]
	if !ok {
		c = New(name)
		h.conns[name] = c
	}
	h.mu.Unlock()
	c.addEntities(entities...)
	return c
}

// Lookup returns the Conn called name, if one was made.
func (h *Hub) Lookup(name string) (*Conn, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.conns[name]
	return c, ok
}

// Spec returns the memory connector's spec; opened systems come from hub.
func Spec(hub *Hub) connector.Spec {
	return connector.Spec{
		Name:    Name,
		Summary: "An in-memory system for tests, demos and benchmarks; data lives as long as the process.",
		Fields: []connector.Field{{
			Name:        SettingEntities,
			Type:        "list",
			Description: "Canonical entities the system holds.",
			Example:     "[account, product]",
			Required:    true,
		}},
		Validate: validate,
		Open: func(_ context.Context, p connector.OpenParams) (connector.Connector, error) {
			s, errs := decode(p.Settings)
			if len(errs) > 0 {
				return nil, fmt.Errorf("open memory system %s: %w", p.System, errs[0])
			}
			return hub.Conn(p.System, s.Entities...), nil
		},
	}
}

// Register adds the memory connector to reg; systems it opens live in hub.
func Register(reg *connector.Registry, hub *Hub) { reg.Register(Spec(hub)) }

func validate(settings map[string]any) []error {
	_, errs := decode(settings)
	return errs
}

func decode(settings map[string]any) (Settings, []error) {
	var s Settings
	if err := connector.DecodeSettings(settings, &s); err != nil {
		return s, []error{err}
	}
	var errs []error
	if len(s.Entities) == 0 {
		errs = append(errs, &connector.SettingError{Path: SettingEntities, Msg: errNoEntities.Error()})
	}
	for i, e := range s.Entities {
		if !e.Valid() {
			errs = append(errs, &connector.SettingError{
				Path: fmt.Sprintf("%s.%d", SettingEntities, i),
				Msg:  fmt.Sprintf("unknown entity %q", e),
			})
		}
	}
	return s, errs
}
