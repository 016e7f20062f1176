package initcfg

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/concord-sync/concord/internal/model"
)

// plain matches values written without quotes.
var plain = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_./@-]*$`)

// yamlKeywords would change meaning unquoted.
var yamlKeywords = map[string]bool{"true": true, "false": true, "yes": true, "no": true, "on": true, "off": true, "null": true, "y": true, "n": true}

// str writes s as a YAML scalar: plain when safe, else double-quoted.
func str(s string) string {
	if plain.MatchString(s) && !yamlKeywords[strings.ToLower(s)] {
		return s
	}
	return strconv.Quote(s)
}

// DDLFile names the file holding a system's DDL, for the config's comments;
// empty when the system needs none.
type DDLFile func(system string) string

// Render writes the proposal as a commented concord.yaml. ddlFile names where
// each system's DDL is written (for the comments).
func Render(p *Proposal, ddlFile DDLFile) []byte {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# concord.yaml, proposed by `concord init` from what the systems hold.")
	w("# Read it before the first sync: each choice is explained next to it, and mappings")
	w("# init was unsure of are left as comments with their candidates.")
	w("# The keys: docs/config.md; the connectors' settings: docs/connectors/<connector>.md.")
	w("# Check it with `concord validate`, preview with `concord plan`, then `concord sync --once`.")
	w("version: 1")
	w("")
	w("# The person who owns this integration: required.")
	w("owner: %s", str(p.Owner))
	w("")
	w("# Concord's own state (links, events, cursors, queue): an SQLite file next to this config.")
	w("store:")
	w("  driver: sqlite")
	w("  path: concord.db")
	w("")
	w("systems:")
	for _, s := range p.Systems {
		renderSystem(w, p, s, ddlFile(s.Name))
	}
	w("")
	w("# Every synced field has exactly one owner system: Concord never writes a field into")
	w("# its owner. Customers and contacts are the CRM's; the catalogue is the ERP's.")
	if len(p.Flows) == 0 {
		w("# init found no entity both systems hold: map one under systems, then add it here")
		w("# and under flows (docs/config.md).")
		w("entities: {}")
	} else {
		w("entities:")
		for _, f := range p.Flows {
			w("  %s:", f.Entity)
			w("    fields:")
			width := 0
			for _, name := range f.Fields {
				width = max(width, len(name)+1)
			}
			for _, name := range f.Fields {
				opts := "owner: " + f.Source
				if d, ok := model.LookupField(f.Entity, name); ok && d.Name == "name" {
					opts += ", required: true, clean: [trim]"
				}
				w("      %-*s {%s}", width, name+":", opts)
			}
		}
	}
	w("")
	w("# One-way flows: each moves its fields from their owner to the other system.")
	if len(p.Flows) == 0 {
		w("flows: []")
		return []byte(b.String())
	}
	w("flows:")
	for _, f := range p.Flows {
		w("  - name: %s", str(f.Name))
		w("    source: %s", str(f.Source))
		w("    target: %s", str(f.Target))
		w("    entity: %s", f.Entity)
		w("    trigger: change")
		w("    fields: [%s]", strings.Join(f.Fields, ", "))
		if len(f.Left) > 0 {
			w("    # Mapped on one side only, owned by the target, or computed there: %s.", strings.Join(f.Left, ", "))
		}
	}
	return []byte(b.String())
}

// renderSystem writes one entry of systems.
func renderSystem(w func(string, ...any), p *Proposal, s *SystemMap, ddl string) {
	w("  - name: %s", str(s.Name))
	w("    connector: %s", str(s.Connector))
	w("    settings:                      # docs/connectors/%s.md", s.Connector)
	for _, st := range s.Settings {
		w("      %s: %s", st.Key, str(st.Value))
	}
	if s.Connector == ConnHubSpot && !hasSetting(s.Settings, "currency") {
		w("      currency: %s                 # money properties without a currency of their own", str(p.Currency))
	}
	if s.Connector == ConnHubSpot && !hasSetting(s.Settings, "create_link_property") {
		w("      create_link_property: true     # creates the unique erp_id property on open")
	}
	if s.NotInspected != "" {
		w("      # init could not inspect %s (%s): map its entities by hand.", s.Name, s.NotInspected)
	}
	for _, o := range s.Others {
		w("      # also found: %s", o)
	}
	if fixedMapping(s.Connector) {
		var names []string
		for _, m := range s.Entities {
			names = append(names, fmt.Sprintf("%s (%s)", m.Entity, m.Object))
		}
		if len(names) > 0 {
			w("      # The %s connector maps its models itself: %s.", connectorTitle[s.Connector], strings.Join(names, ", "))
		}
		return
	}
	if len(s.Entities) == 0 {
		return
	}
	w("      entities:")
	for _, m := range s.Entities {
		if len(m.Candidates) > 0 {
			w("        # %s could also be: %s", m.Entity, strings.Join(m.Candidates, ", "))
		}
		for _, n := range m.Notes {
			w("        # %s", n)
		}
		w("        %s:", m.Entity)
		switch s.Connector {
		case ConnSQL:
			w("          table: %s", str(m.Object))
			w("          id: %s", str(m.ID))
			if m.IDNote != "" {
				w("          # %s", m.IDNote)
			}
			w("          id_kind: %s", m.IDKind)
			added := ""
			if ddl != "" && len(m.DDL) > 0 {
				added = "   # see " + ddl
			}
			w("          updated_at: %s%s", str(m.UpdatedAt), added)
			if m.Link != "" {
				w("          link: %s%s", str(m.Link), added)
			}
		case ConnHubSpot:
			w("          object: %s", str(m.Object))
		}
		w("          fields:")
		for _, f := range m.Fields {
			switch {
			case f.CurrencyColumn != "":
				w("            %s: {%s: %s, currency_column: %s}", f.Field, columnKey(s.Connector), str(f.Column), str(f.CurrencyColumn))
			case f.Currency != "":
				w("            %s: {%s: %s, currency: %s}", f.Field, columnKey(s.Connector), str(f.Column), f.Currency)
			default:
				w("            %s: %s", f.Field, str(f.Column))
			}
		}
		for _, u := range m.Unsure {
			w("            # %s: %s? (%s)", u.Field, strings.Join(u.Candidates, " or "), u.Why)
		}
	}
}

func columnKey(conn string) string {
	if conn == ConnHubSpot {
		return "property"
	}
	return "column"
}

func hasSetting(ss []Setting, key string) bool {
	for _, s := range ss {
		if s.Key == key {
			return true
		}
	}
	return false
}

// DDL returns the statements system's DBA must run, each ending with ";",
// with a comment per table; empty when nothing is missing or the system is not
// sql.
func DDL(p *Proposal, system string) string {
	var b strings.Builder
	for _, s := range p.Systems {
		if s.Name != system || s.Connector != ConnSQL {
			continue
		}
		for _, m := range s.Entities {
			if len(m.DDL) == 0 {
				continue
			}
			fmt.Fprintf(&b, "-- %s (%s): change detection and links for Concord\n", m.Object, m.Entity)
			for _, stmt := range m.DDL {
				b.WriteString(stmt)
				b.WriteString(";\n")
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// connectorTitle is how comments name the fixed-mapping connectors.
var connectorTitle = map[string]string{ConnTryton: "Tryton", ConnOdoo: "Odoo"}
