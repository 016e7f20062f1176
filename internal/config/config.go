package config

import (
	"slices"
	"time"

	"github.com/concord-sync/concord/internal/model"
)

// Store drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Flow triggers.
const (
	// TriggerChange runs a flow for every change the source reports.
	TriggerChange = "change"
	// TriggerDealWon runs a flow when a deal reaches the won stage.
	TriggerDealWon = "deal_won"
	// TriggerSchedule runs a flow over all records at a fixed interval (Flow.Every).
	TriggerSchedule = "schedule"
)

// Flow modes.
const (
	// ModeOneWay copies the flow's fields from source to target only.
	ModeOneWay = "one-way"
	// ModeTwoWay copies each field from the system that owns it to the other one.
	ModeTwoWay = "two-way"
)

// Conflict rules of two-way flows.
const (
	// ConflictOwnerWins always keeps the owning system's value.
	ConflictOwnerWins = "owner_wins"
	// ConflictOwnerUnlessBlank keeps the owner's value unless it is blank, in
	// which case the other system's value wins.
	ConflictOwnerUnlessBlank = "owner_unless_blank"
	// ConflictNewestWins keeps the most recently modified value.
	ConflictNewestWins = "newest_wins"
)

// Triggers, Modes, Conflicts and Drivers list the accepted values of the
// corresponding keys, in documentation order. Do not modify.
var (
	Triggers  = []string{TriggerChange, TriggerDealWon, TriggerSchedule}
	Modes     = []string{ModeOneWay, ModeTwoWay}
	Conflicts = []string{ConflictOwnerWins, ConflictOwnerUnlessBlank, ConflictNewestWins}
	Drivers   = []string{DriverSQLite, DriverPostgres}
)

// CleanRules lists the normalisation rules a field may name in `clean`, in the
// order internal/clean applies them: trim (surrounding white space), lower,
// upper, email (lower-cased, validated address), phone (E.164), country (ISO
// 3166-1 alpha-2), vat (normalised VAT id). Do not modify.
var CleanRules = []string{"trim", "lower", "upper", "email", "phone", "country", "vat"}

// DealWonEntities are the entities a deal_won flow may move. Do not modify.
var DealWonEntities = []model.Entity{model.Account, model.Contact, model.Deal, model.Order}

// Config is a loaded, resolved and validated config file. It is read-only once
// returned by Load and safe for concurrent reads.
type Config struct {
	// Path is the config file's path as given to Load.
	Path string
	// Dir is the absolute directory of the config file; relative paths in the
	// file are relative to it.
	Dir string
	// Version is a short sha256 of the file's bytes: the mapping version
	// recorded on every event, so that an event can be traced to the exact
	// config that planned it.
	Version string
	// Owner is the person who owns this integration (an e-mail address or name).
	Owner string
	// Store says where concord keeps links, events, cursors and the job queue.
	Store Store
	// Sync holds the engine's tuning, with defaults from DefaultConfig.
	Sync Sync
	// Systems are the configured systems, in file order.
	Systems []System
	// Entities declares, per canonical entity, the synced fields and their owners.
	Entities map[model.Entity]*Entity
	// Flows are the configured flows, in file order.
	Flows []Flow
	// Retention says how long the store keeps events.
	Retention Retention
	// Alerts says when serve tells the owner that something is wrong, and how.
	Alerts Alerts
	// Tracing configures OpenTelemetry tracing (tracing.go); off by default.
	Tracing Tracing
	// Report configures the reporting database (report.go).
	Report Report
	// Reconcile says when serve reconciles the systems (reconcile.go); off
	// by default.
	Reconcile Reconcile
	// Console configures the web console of serve (console.go); off unless
	// users are configured.
	Console Console
}

// Store configures the store.
type Store struct {
	// Driver is DriverSQLite (the default) or DriverPostgres.
	Driver string
	// Path is the absolute path of the SQLite file (sqlite only).
	Path string
	// DSN is the PostgreSQL connection string with secrets resolved (postgres
	// only). Never log it.
	DSN string
}

// Sync tunes the engine.
type Sync struct {
	// BatchSize is the number of records per read page and per queue job.
	BatchSize int
	// Workers is the number of concurrent queue workers.
	Workers int
	// Partitions splits each flow direction's queued records by record id so
	// that several serve nodes on a PostgreSQL store apply one flow's batches
	// at once (1: one batch of a flow at a time across the nodes).
	Partitions int
	// PollInterval is how often serve polls each change flow's source.
	PollInterval time.Duration
	// Overlap is how far back a timestamp cursor re-reads, to catch records
	// committed late; connectors that use an overlap window receive it.
	Overlap time.Duration
	// Retry controls retries of failed writes.
	Retry Retry
	// WaitLimit is how long a change may wait for a record it needs (a deal's
	// account not handed over yet, an invoice's order not linked yet) before it
	// becomes a dead letter.
	WaitLimit time.Duration
}

// Retry controls retries of failed writes: exponential backoff with jitter,
// from Backoff up to MaxBackoff, then dead-letter after MaxAttempts.
type Retry struct {
	MaxAttempts int
	Backoff     time.Duration
	MaxBackoff  time.Duration
}

// System is one configured CRM or ERP instance.
type System struct {
	// Name is the system's unique name, used by owners and flows.
	Name string
	// Connector is the registered connector type.
	Connector string
	// Settings are the connector's settings with secret references resolved.
	// Never log them.
	Settings map[string]any
	// DefaultCountry is the ISO 3166-1 alpha-2 country in which phone numbers
	// typed in this system without an international prefix are read, for
	// records that carry no country of their own. Empty: none.
	DefaultCountry string
	// MaxConcurrency bounds the batches written into the system at once by
	// every process on the store together (several serve nodes); 0: no
	// bound beyond each process's workers.
	MaxConcurrency int
	// Line is the line of the system's entry in the file, for later messages.
	Line int

	// settings and settingsKey are the settings' node and key, for SettingLine.
	settings, settingsKey *node
}

// Entity declares the synced fields of one canonical entity.
type Entity struct {
	// Name is the canonical entity.
	Name model.Entity
	// Fields are the declared fields by name.
	Fields map[string]*Field
	// Match is the entity's match block; nil means match.DefaultRules (see
	// Config.MatchRules).
	Match *Match
}

// Field is one declared field: its one owner system and how it is cleaned.
type Field struct {
	// Name is the canonical (or custom) field name.
	Name string
	// Owner is the system that is the source of truth for the field. Concord
	// never writes the field into its owner.
	Owner string
	// Type is the field's type: the standard type, or the declared type of a
	// custom field.
	Type model.FieldType
	// Custom is true for fields not in model.Schema.
	Custom bool
	// Required marks a field that must not be blank; records without it are
	// quarantined.
	Required bool
	// Clean are the normalisation rules applied in order, from CleanRules.
	Clean []string
}

// Flow is one directed sync of one entity between two systems.
type Flow struct {
	// Name is unique; it defaults to "<entity>-<source>-to-<target>".
	Name string
	// Source is the system records are read from.
	Source string
	// Target is the system records are written to.
	Target string
	// Entity is the canonical entity the flow moves.
	Entity model.Entity
	// Trigger is one of Triggers; the default is TriggerChange.
	Trigger string
	// Every overrides Sync.PollInterval for this flow, and is the interval of a
	// schedule flow. Zero means the default.
	Every time.Duration
	// Fields are the fields the flow moves, in file order.
	Fields []string
	// Mode is ModeOneWay (the default) or ModeTwoWay.
	Mode string
	// Conflict is the conflict rule of a two-way flow, one of Conflicts; empty
	// for one-way flows.
	Conflict string
	// Owners maps each of Fields to the system that owns it, as declared in
	// the config's entities.
	Owners map[string]string
	// TargetEntity is the entity written in the target; it equals Entity unless
	// the file sets target_entity.
	TargetEntity model.Entity
	// Map renames fields: source field -> target field (only the renamed ones).
	Map map[string]string
	// LinkBy is a reference field of the source record whose counterpart in the
	// target is the record to update; such flows never create.
	LinkBy string
	// StatusField is a field of the source record Concord writes the outcome of
	// each attempt into; it is owned by the target system.
	StatusField string
	// AllowReturns lets order lines with a negative quantity (returns) through;
	// by default they are refused before the write.
	AllowReturns bool
	// DefaultCountry overrides the source system's DefaultCountry for this flow.
	DefaultCountry string
	// Line is the line of the flow's entry in the file.
	Line int
	// Unlinked says what a record with no link in the target may do: one of
	// UnlinkedModes. The default is UnlinkedMatch for entities with match rules
	// (Config.MatchRules), UnlinkedCreate for others.
	Unlinked string
	// ReverseUnlinked is Unlinked for the reverse leg of a two-way flow; the
	// default is UnlinkedUpdateOnly (a reverse leg never creates unless the file
	// says so). Empty for one-way flows.
	ReverseUnlinked string
}

// TargetField returns the target's name of source field f.
func (f *Flow) TargetField(name string) string {
	if t, ok := f.Map[name]; ok {
		return t
	}
	return name
}

// DefaultConfig returns a config with every default filled in and nothing
// configured: a SQLite store in concord.db, 500-record batches, 4 workers, a 30s
// poll interval, a 2s overlap, and 5 attempts with backoff from 1s to 5m.
func DefaultConfig() *Config {
	return &Config{
		Store: Store{Driver: DriverSQLite, Path: "concord.db"},
		Sync: Sync{
			BatchSize:    500,
			Workers:      4,
			Partitions:   1,
			PollInterval: 30 * time.Second,
			Overlap:      2 * time.Second,
			Retry:        Retry{MaxAttempts: 5, Backoff: time.Second, MaxBackoff: 5 * time.Minute},
			WaitLimit:    24 * time.Hour,
		},
		Entities:  map[model.Entity]*Entity{},
		Retention: Retention{Events: DefaultEventRetention},
		Alerts:    DefaultAlerts(),
		Tracing:   Tracing{SampleRatio: DefaultSampleRatio, ServiceName: DefaultServiceName},
		Report:    Report{Path: DefaultReportFile, Schema: DefaultReportSchema, Every: DefaultReportEvery},
		Reconcile: Reconcile{Months: DefaultReconcileMonths},
	}
}

// System returns the system called name.
func (c *Config) System(name string) (*System, bool) {
	for i := range c.Systems {
		if c.Systems[i].Name == name {
			return &c.Systems[i], true
		}
	}
	return nil, false
}

// Flow returns the flow called name.
func (c *Config) Flow(name string) (*Flow, bool) {
	for i := range c.Flows {
		if c.Flows[i].Name == name {
			return &c.Flows[i], true
		}
	}
	return nil, false
}

// FieldOwner returns the system that owns field of entity e, or "" when the
// field is not declared.
func (c *Config) FieldOwner(e model.Entity, field string) string {
	ent, ok := c.Entities[e]
	if !ok {
		return ""
	}
	f, ok := ent.Fields[field]
	if !ok {
		return ""
	}
	return f.Owner
}

// FieldDef returns the definition of field of entity e: the standard one from
// model.LookupField, or for a declared custom field a FieldDef with its declared
// type. An unknown field gives a zero FieldDef.
func (c *Config) FieldDef(e model.Entity, field string) model.FieldDef {
	if d, ok := model.LookupField(e, field); ok {
		return d
	}
	if ent, ok := c.Entities[e]; ok {
		if f, ok := ent.Fields[field]; ok {
			return model.FieldDef{Name: f.Name, Type: f.Type, Doc: "custom field"}
		}
	}
	return model.FieldDef{}
}

// FieldsFrom returns the flow's fields that move out of system, in file order.
// For a one-way flow that is every field when system is the source and none
// otherwise; for a two-way flow it is the fields system owns.
func (f *Flow) FieldsFrom(system string) []string {
	if f.Mode != ModeTwoWay {
		if system == f.Source {
			return slices.Clone(f.Fields)
		}
		return nil
	}
	var out []string
	for _, name := range f.Fields {
		if f.Owners[name] == system {
			out = append(out, name)
		}
	}
	return out
}

// IsTwoWay reports whether the flow is two-way.
func (f *Flow) IsTwoWay() bool { return f.Mode == ModeTwoWay }
