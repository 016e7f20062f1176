package main

import (
	"encoding/json"

	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/model"
)

// mappingSettings are the top-level connector settings that decide the values
// written, besides each entity's own block (currencies, deal stages, the
// Tryton company and warehouse). Connection settings (addresses, credentials,
// rate limits) are left out: changing them changes no value, and secrets never
// reach the store, not even hashed.
var mappingSettings = []string{"currency", "stages", "pipeline", "company", "warehouse", "product_category", "link_identifier_type"}

// legMapping describes, for the leg's mapping fingerprint, each system's
// settings for the entity the leg reads or writes there: the entity's block
// under entities (table, columns, properties, map, currencies) and the
// value-deciding top-level settings, as JSON.
func legMapping(cfg *config.Config, source string, entity model.Entity, target string, targetEntity model.Entity) map[string]string {
	out := map[string]string{}
	for _, side := range []struct {
		system string
		entity model.Entity
	}{{source, entity}, {target, targetEntity}} {
		sys, ok := cfg.System(side.system)
		if !ok {
			continue
		}
		part := map[string]any{}
		if ents, ok := sys.Settings["entities"].(map[string]any); ok {
			if e, ok := ents[string(side.entity)]; ok {
				part["entities."+string(side.entity)] = e
			}
		}
		for _, k := range mappingSettings {
			if v, ok := sys.Settings[k]; ok {
				part[k] = v
			}
		}
		b, err := json.Marshal(part)
		if err != nil {
			// Settings come from YAML: always encodable; keep the fingerprint stable anyway.
			continue
		}
		out[side.system] = string(b)
	}
	return out
}
