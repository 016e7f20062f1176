package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/concord-sync/concord/internal/model"
)

// SchemaID is the $id of the JSON Schema returned by Schema.
const SchemaID = "https://concord-sync.github.io/schema/concord.schema.json"

// jsonSchema is the subset of JSON Schema (draft 2020-12) the config needs. The
// same values drive Load's unknown-key checks.
type jsonSchema struct {
	Schema               string                 `json:"$schema,omitempty"`
	ID                   string                 `json:"$id,omitempty"`
	Title                string                 `json:"title,omitempty"`
	Description          string                 `json:"description,omitempty"`
	Type                 string                 `json:"type,omitempty"`
	Enum                 []any                  `json:"enum,omitempty"`
	Const                any                    `json:"const,omitempty"`
	Default              any                    `json:"default,omitempty"`
	Examples             []any                  `json:"examples,omitempty"`
	Pattern              string                 `json:"pattern,omitempty"`
	MinLength            *int                   `json:"minLength,omitempty"`
	Minimum              *int                   `json:"minimum,omitempty"`
	ExclusiveMinimum     *int                   `json:"exclusiveMinimum,omitempty"`
	Maximum              *int                   `json:"maximum,omitempty"`
	MinItems             *int                   `json:"minItems,omitempty"`
	UniqueItems          bool                   `json:"uniqueItems,omitempty"`
	Items                *jsonSchema            `json:"items,omitempty"`
	Properties           map[string]*jsonSchema `json:"properties,omitempty"`
	Required             []string               `json:"required,omitempty"`
	PropertyNames        *jsonSchema            `json:"propertyNames,omitempty"`
	AdditionalProperties any                    `json:"additionalProperties,omitempty"`
	If                   *jsonSchema            `json:"if,omitempty"`
	Then                 *jsonSchema            `json:"then,omitempty"`
	Not                  *jsonSchema            `json:"not,omitempty"`
}

// propertyNames returns the declared property names, sorted.
func (s *jsonSchema) propertyNames() []string {
	names := make([]string, 0, len(s.Properties))
	for k := range s.Properties {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

func ptr[T any](v T) *T { return &v }

func strEnum[T ~string](values []T) []any {
	out := make([]any, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}

const (
	durationPattern = `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	namePattern     = `^[a-z0-9][a-z0-9_-]*$`
	secretRefDoc    = "Give secrets as env:NAME or file:PATH (relative to the config file), never inline."
)

func str(desc string) *jsonSchema { return &jsonSchema{Type: "string", Description: desc} }

func duration(desc, def string) *jsonSchema {
	return &jsonSchema{Type: "string", Pattern: durationPattern, Description: desc, Default: def, Examples: []any{def}}
}

func positive(desc string, def int) *jsonSchema {
	return &jsonSchema{Type: "integer", Minimum: ptr(1), Description: desc, Default: def}
}

func object(desc string, props map[string]*jsonSchema, required ...string) *jsonSchema {
	return &jsonSchema{Type: "object", Description: desc, Properties: props, Required: required, AdditionalProperties: false}
}

// The schema of each part of the file. They are built once and never modified.
var (
	storeSchema = object("Where concord keeps links, events, cursors and its job queue. Optional: the default is a SQLite file concord.db next to the config file.", map[string]*jsonSchema{
		"driver": {Type: "string", Enum: strEnum(Drivers), Default: DriverSQLite, Description: "sqlite for one node (the default), postgres for several nodes sharing one database."},
		"path":   str("SQLite only: the database file, relative to the config file's directory. Default concord.db."),
		"dsn":    str("PostgreSQL only, and required there: the connection string. If it holds a password, give it as env:NAME or file:PATH."),
	})

	retrySchema = object("Retries of failed writes: exponential backoff with jitter, then dead-letter.", map[string]*jsonSchema{
		"max_attempts": positive("Attempts before a write is dead-lettered.", 5),
		"backoff":      duration("Wait before the first retry; doubles on each attempt.", "1s"),
		"max_backoff":  duration("Longest wait between two attempts.", "5m"),
	})

	syncSchema = object("Engine tuning. Every key is optional.", map[string]*jsonSchema{
		"batch_size":    positive("Records per read page and per queue job.", 500),
		"workers":       positive("Concurrent queue workers.", 4),
		"partitions":    positive("PostgreSQL store with several serve nodes: how many parts each flow direction's queued records are split into by record id, each applied by one node at a time (at most 64); 1 applies one batch of a flow at a time across the nodes.", 1),
		"poll_interval": duration("How often `concord serve` polls the source of each change flow.", "30s"),
		"overlap":       duration("How far back a timestamp cursor re-reads, to catch records committed late.", "2s"),
		"retry":         retrySchema,
		"wait_limit":    duration("How long a change may wait for a record it needs (an account not handed over yet, an order not linked yet) before it becomes a dead letter.", "24h"),
	})

	systemSchema = object("One CRM or ERP instance.", map[string]*jsonSchema{
		"name":            {Type: "string", Pattern: namePattern, Description: "Unique name of the system, used by field owners and flows: lower-case letters, digits, _ and -."},
		"connector":       {Type: "string", MinLength: ptr(1), Description: "Connector type, as listed by `concord connectors`."},
		"settings":        {Type: "object", Description: "Connector settings; see docs/connectors/<connector>.md. " + secretRefDoc},
		"max_concurrency": {Type: "integer", Minimum: ptr(1), Description: "At most this many batches are written into the system at once, by every concord process on the store together (several serve nodes share the bound through the store). Not set: each process writes up to sync.workers batches at once."},
		"default_country": defaultCountrySchema("The country (ISO 3166-1 alpha-2, or an English name) in which phone numbers typed in this system without an international prefix are read, for records that carry no country of their own."),
	}, "name", "connector")

	fieldSchema = object("One synced field.", map[string]*jsonSchema{
		"owner":    str("The one system that is the source of truth for this field. Concord never writes the field into its owner."),
		"type":     {Type: "string", Enum: strEnum(model.FieldTypes), Description: "Type of a custom field (one that is not a standard field of the entity). Not needed for standard fields."},
		"required": {Type: "boolean", Default: false, Description: "Records where this field is blank are quarantined instead of synced."},
		"clean": {Type: "array", UniqueItems: true, Description: "Normalisation rules applied in order before the field is compared or written.",
			Items: &jsonSchema{Type: "string", Enum: strEnum(CleanRules)}},
	}, "owner")

	matchSchema = object("How records of this entity are found in the other system before a flow creates them (unlinked: match). Keys not given take the defaults of the entity (account: keys vat, customer_number, domain; contact: email; product: sku).", map[string]*jsonSchema{
		"keys":      {Type: "array", UniqueItems: true, Items: &jsonSchema{Type: "string"}, Description: "Fields whose equal normalised values identify the same record (a VAT id, a customer number, a SKU, an e-mail): a key match scores 1."},
		"fields":    {Type: "array", UniqueItems: true, Items: &jsonSchema{Type: "string"}, Description: "Fields the similarity score compares (name, street, city, zip, country, phone)."},
		"auto_link": {Type: "number", ExclusiveMinimum: ptr(0), Maximum: ptr(1), Description: "Score at or above which the two records are linked without review (no create). Default 0.92 for accounts, 0.95 for others."},
		"review":    {Type: "number", ExclusiveMinimum: ptr(0), Maximum: ptr(1), Description: "Score at or above which (and below auto_link) the pair waits for a person in `concord match`; below it the record is created. At most auto_link. Default 0.75 for accounts, 0.8 for others."},
	})

	entitySchema = object("The synced fields of one entity.", map[string]*jsonSchema{
		"fields": {Type: "object", Description: "Field name -> owner and cleaning rules. Every field a flow moves must be declared here.",
			AdditionalProperties: fieldSchema},
		"match": matchSchema,
	}, "fields")

	flowSchema = &jsonSchema{
		Type:        "object",
		Description: "One directed sync of one entity from a source system to a target system.",
		Properties: map[string]*jsonSchema{
			"name":             {Type: "string", Pattern: namePattern, Description: "Unique name; default <entity>-<source>-to-<target>."},
			"source":           str("The system records are read from."),
			"target":           str("The system records are written to."),
			"entity":           {Type: "string", Enum: strEnum(model.Entities), Description: "The entity the flow moves; it must be declared under entities."},
			"trigger":          {Type: "string", Enum: strEnum(Triggers), Default: TriggerChange, Description: "change: every change in the source; deal_won: when a deal reaches the won stage (account, contact, deal, order); schedule: all records every `every`."},
			"every":            duration("Poll interval of this flow (overrides sync.poll_interval); required for schedule flows.", "1m"),
			"fields":           {Type: "array", MinItems: ptr(1), UniqueItems: true, Items: &jsonSchema{Type: "string"}, Description: "Fields the flow moves; each must be declared under entities, and a one-way flow may only move fields its source owns."},
			"mode":             {Type: "string", Enum: strEnum(Modes), Default: ModeOneWay, Description: "one-way copies from source to target; two-way copies each field from its owner to the other system and needs a conflict rule."},
			"conflict":         {Type: "string", Enum: strEnum(Conflicts), Description: "Two-way only: owner_wins, owner_unless_blank (the owner wins unless its value is blank) or newest_wins."},
			"target_entity":    {Type: "string", Enum: strEnum(model.Entities), Description: "The entity written in the target when it differs from entity (a won deal becomes an order; an invoice's status lands on a deal). One-way only."},
			"map":              {Type: "object", AdditionalProperties: &jsonSchema{Type: "string"}, Description: "Field renames, source field -> target field, for fields whose names differ between entity and target_entity."},
			"status_field":     str("A text field of the source record that Concord writes each attempt's outcome into (synced, waiting: reason, failed: reason), e.g. erp_sync_status on a deal. It must be declared on entity and owned by the target system."),
			"allow_returns":    {Type: "boolean", Default: false, Description: "Send order lines with a negative quantity (returns, credit notes). Without it such a line is refused before the write and the record is quarantined with the line and field named."},
			"unlinked":         {Type: "string", Enum: strEnum(UnlinkedModes), Description: "What a record with no link in the target may do. match (the default for account, contact, product and entities with a match block): look for the same record in the target first; a sure match is linked, a likely one waits in `concord match`, only the rest is created. create (the default for others): create it. update_only: never create; only linked records are updated."},
			"reverse_unlinked": {Type: "string", Enum: strEnum(UnlinkedModes), Default: UnlinkedUpdateOnly, Description: "Two-way only: unlinked for the reverse direction (target to source). Default update_only: the reverse direction never creates unless this says so."},
			"default_country":  defaultCountrySchema("Overrides the source system's default_country for this flow."),
			"link_by":          str("A reference field of the source record: the target record is the counterpart of the record it references (an invoice's order, linked to a CRM deal). Such a flow updates and never creates."),
		},
		Required:             []string{"source", "target", "entity", "fields"},
		AdditionalProperties: false,
		If:                   &jsonSchema{Properties: map[string]*jsonSchema{"mode": {Const: ModeTwoWay}}, Required: []string{"mode"}},
		Then:                 &jsonSchema{Required: []string{"conflict"}},
	}

	rootSchema = &jsonSchema{
		Schema:      "https://json-schema.org/draft/2020-12/schema",
		ID:          SchemaID,
		Title:       "concord configuration",
		Description: "Configuration of concord, the CRM <-> ERP integration engine. See docs/config.md.",
		Type:        "object",
		Properties: map[string]*jsonSchema{
			"version": {Type: "integer", Const: 1, Description: "Version of the file format; always 1."},
			"owner":   {Type: "string", MinLength: ptr(1), Description: "The person who owns this integration (e-mail address). Required: an integration without an owner rots quietly."},
			"store":   storeSchema,
			"sync":    syncSchema,
			"systems": {Type: "array", MinItems: ptr(1), Items: systemSchema, Description: "The systems to connect."},
			"entities": {Type: "object", Description: "Per entity, the synced fields and the one system that owns each.",
				PropertyNames: &jsonSchema{Enum: strEnum(model.Entities)}, AdditionalProperties: entitySchema},
			"flows":     {Type: "array", Items: flowSchema, Description: "The flows: which entity moves from which system to which."},
			"retention": retentionSchema,
			"alerts":    alertsSchema,
			"tracing":   tracingSchema,
			"report":    reportSchema,
			"reconcile": reconcileSchema,
			"console":   consoleSchema,
		},
		Required:             []string{"version", "owner", "systems"},
		AdditionalProperties: false,
	}
)

// Schema returns the JSON Schema (draft 2020-12) of the config file, indented,
// for `concord schema` and editors (`# yaml-language-server: $schema=...`). It
// checks structure, types and enums; ownership and cross-references are checked
// by Load only.
func Schema() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rootSchema); err != nil {
		return nil, fmt.Errorf("marshal schema: %w", err)
	}
	return buf.Bytes(), nil
}

func defaultCountrySchema(doc string) *jsonSchema {
	return &jsonSchema{Type: "string", MinLength: ptr(2), Description: doc, Examples: []any{"GB"}}
}
