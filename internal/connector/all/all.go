// Package all registers every connector that ships with Concord.
package all

import (
	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/hubspot"
	"github.com/concord-sync/concord/internal/connector/memory"
	"github.com/concord-sync/concord/internal/connector/odoo"
	"github.com/concord-sync/concord/internal/connector/pipedrive"
	"github.com/concord-sync/concord/internal/connector/salesforce"
	sqlconn "github.com/concord-sync/concord/internal/connector/sql"
	"github.com/concord-sync/concord/internal/connector/tryton"
)

// Deps are what some connectors share within one process.
type Deps struct {
	// Memory holds the in-memory systems; nil gets a fresh hub.
	Memory *memory.Hub
}

// Registry returns a registry holding every shipped connector.
func Registry(d Deps) *connector.Registry {
	if d.Memory == nil {
		d.Memory = memory.NewHub()
	}
	reg := connector.NewRegistry()
	memory.Register(reg, d.Memory)
	sqlconn.Register(reg)
	hubspot.Register(reg)
	tryton.Register(reg)
	odoo.Register(reg)
	salesforce.Register(reg)
	pipedrive.Register(reg)
	return reg
}
