package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/all"
	"github.com/concord-sync/concord/internal/model"
)

const doctorLong = `doctor loads and validates the config, then opens each system and checks the
config against it, reading only (it never writes to a system, and prints the DDL
for a DBA to run instead of running it):
  - every mapped table, column, property and model exists;
  - link fields are unique (sql: a unique index on the link column; HubSpot: the
    link property has "Require unique values"; Tryton: the party identifier type);
  - change detection works (sql: updated_at exists, is indexed and is maintained
    by a trigger on UPDATE or MySQL's ON UPDATE);
  - the credentials have the rights the flows need (PostgreSQL table privileges,
    MySQL grants, a writable SQLite file; the HubSpot token's scopes; Tryton model
    access). Write rights are only required of systems a flow writes into;
  - every flow's entity is mapped by its source and target systems.
Each problem names the config line at fault (FILE:LINE) and the fix. Warnings
(an unindexed updated_at) do not fail. Exit code 0 when no problem is found,
1 when one is or a system cannot be opened, 2 when the config is invalid.
validate --connect runs the same checks.`

func newDoctorCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the config against the live systems: tables, columns, properties, unique links, change detection, rights",
		Long:  doctorLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDoctor(cmd.Context(), g, cmd.OutOrStdout(), asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

// doctorReport is the doctor's findings, as --json prints them.
type doctorReport struct {
	Config   string         `json:"config"`
	Systems  []doctorSystem `json:"systems"`
	Problems int            `json:"problems"`
	Warnings int            `json:"warnings"`
}

type doctorSystem struct {
	Name      string          `json:"name"`
	Connector string          `json:"connector"`
	Line      int             `json:"line"`
	Problems  []doctorProblem `json:"problems"`
	// Checked is false when the connector has no checks of its own.
	Checked bool `json:"checked"`
}

type doctorProblem struct {
	Severity string `json:"severity"` // "problem" or "warning"
	File     string `json:"file"`
	Line     int    `json:"line"`
	Col      int    `json:"col"`
	Setting  string `json:"setting,omitempty"`
	Entity   string `json:"entity,omitempty"`
	Message  string `json:"message"`
	Fix      string `json:"fix,omitempty"`
}

// runDoctor loads the config, checks every system and prints the report.
func runDoctor(ctx context.Context, g *globals, out io.Writer, asJSON bool) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	reg := all.Registry(all.Deps{})
	cfg, err := loadConfig(g, reg)
	if err != nil {
		return err
	}
	rep := doctor(ctx, cfg, reg, log)
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printDoctor(out, rep)
	}
	if rep.Problems > 0 {
		return &exitError{code: exitRuntime, err: fmt.Errorf("doctor: %d problem(s) in %s", rep.Problems, cfg.Path)}
	}
	return nil
}

// doctorOpenTimeout bounds opening one system.
const doctorOpenTimeout = 30 * time.Second

// doctor opens each system of cfg, runs its Diagnose and the flow checks.
func doctor(ctx context.Context, cfg *config.Config, reg *connector.Registry, log *slog.Logger) doctorReport {
	rep := doctorReport{Config: cfg.Path}
	// writes: the (system, entity) pairs some flow writes into.
	writes := map[string]map[model.Entity]bool{}
	for _, l := range Legs(cfg) {
		e := l.Entity
		if l.TargetEntity != "" {
			e = l.TargetEntity
		}
		if writes[l.Target] == nil {
			writes[l.Target] = map[model.Entity]bool{}
		}
		writes[l.Target][e] = true
	}
	for i := range cfg.Systems {
		sys := &cfg.Systems[i]
		ds := doctorSystem{Name: sys.Name, Connector: sys.Connector, Line: sys.Line, Problems: []doctorProblem{}}
		add := func(p connector.Problem) {
			line, col := sys.Line, 1
			if p.Setting != "" {
				line, col = sys.SettingLine(p.Setting)
			}
			sev := "problem"
			if p.Warning {
				sev = "warning"
			}
			ds.Problems = append(ds.Problems, doctorProblem{Severity: sev, File: cfg.Path, Line: line, Col: col,
				Setting: p.Setting, Entity: string(p.Entity), Message: p.Msg, Fix: p.Fix})
		}
		spec, _ := reg.Lookup(sys.Connector)
		octx, cancel := context.WithTimeout(ctx, doctorOpenTimeout)
		c, err := spec.Open(octx, connector.OpenParams{System: sys.Name, Settings: sys.Settings, Logger: log.With("system", sys.Name), Dir: cfg.Dir, ReadOnly: true})
		cancel()
		if err != nil {
			add(connector.Problem{Msg: "cannot open the system: " + err.Error(),
				Fix: "check the connection settings and that the system is up, then run concord doctor again"})
			rep.Systems = append(rep.Systems, ds)
			continue
		}
		mapped := map[model.Entity]bool{}
		for _, info := range c.Entities() {
			mapped[info.Entity] = true
		}
		if d, ok := c.(connector.Doctor); ok {
			ds.Checked = true
			probs, err := d.Diagnose(ctx)
			if err != nil {
				add(connector.Problem{Msg: "checks stopped: " + err.Error(), Fix: "run concord doctor again once the system answers"})
			}
			for _, p := range probs {
				if p.Writes && p.Entity != "" && !writes[sys.Name][p.Entity] {
					continue // only read from: it needs no write rights
				}
				add(p)
			}
		}
		for _, f := range cfg.Flows {
			for _, end := range []struct {
				system string
				entity model.Entity
				role   string
			}{{f.Source, f.Entity, "reads"}, {f.Target, cmpOr(f.TargetEntity, f.Entity), "writes"}} {
				if end.system == sys.Name && !mapped[end.entity] {
					ds.Problems = append(ds.Problems, doctorProblem{Severity: "problem", File: cfg.Path, Line: f.Line, Col: 1,
						Entity: string(end.entity), Message: fmt.Sprintf("flow %s %s %s, which system %s does not map", f.Name, end.role, end.entity, sys.Name),
						Fix: fmt.Sprintf("map %s in the settings of system %s, or change the flow", end.entity, sys.Name)})
				}
			}
		}
		if err := c.Close(ctx); err != nil {
			log.WarnContext(ctx, "close system", "system", sys.Name, "err", err)
		}
		slices.SortStableFunc(ds.Problems, func(a, b doctorProblem) int { return a.Line - b.Line })
		rep.Systems = append(rep.Systems, ds)
	}
	for _, s := range rep.Systems {
		for _, p := range s.Problems {
			if p.Severity == "warning" {
				rep.Warnings++
			} else {
				rep.Problems++
			}
		}
	}
	return rep
}

func cmpOr(a, b model.Entity) model.Entity {
	if a != "" {
		return a
	}
	return b
}

// printDoctor prints one line per problem, grouped per system, each with its
// fix indented below it.
func printDoctor(w io.Writer, rep doctorReport) {
	for _, s := range rep.Systems {
		fmt.Fprintf(w, "system %s (%s, %s:%d)\n", safeText(s.Name), s.Connector, rep.Config, s.Line)
		if len(s.Problems) == 0 {
			if s.Checked {
				fmt.Fprintln(w, "  ok")
			} else {
				fmt.Fprintf(w, "  ok (the %s connector has no checks of its own)\n", s.Connector)
			}
		}
		for _, p := range s.Problems {
			fmt.Fprintf(w, "  %s:%d:%d: %s: %s\n", p.File, p.Line, p.Col, p.Severity, safeText(p.Message))
			if p.Fix != "" {
				lines := strings.Split(safeMessage(p.Fix), "\n")
				fmt.Fprintf(w, "      fix: %s\n", lines[0])
				for _, l := range lines[1:] {
					fmt.Fprintf(w, "           %s\n", l)
				}
			}
		}
	}
	fmt.Fprintf(w, "%d problem(s), %d warning(s)\n", rep.Problems, rep.Warnings)
}
