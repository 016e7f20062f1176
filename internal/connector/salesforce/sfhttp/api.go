package sfhttp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// MaxCollection is the most records one sObject Collections call takes.
const MaxCollection = 200

// Record is one sObject as the API returns it; numbers are json.Number.
type Record map[string]any

// ID returns the record's Id.
func (r Record) ID() string { return r.String("Id") }

// String returns the field as a string ("" when null or not a string; a
// number as its text, a boolean as true or false).
func (r Record) String(field string) string {
	switch v := r[field].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		if v {
			return "true"
		}
		return "false"
	}
	return ""
}

// QueryResult is one page of a SOQL query.
type QueryResult struct {
	TotalSize      int      `json:"totalSize"`
	Done           bool     `json:"done"`
	NextRecordsURL string   `json:"nextRecordsUrl"`
	Records        []Record `json:"records"`
}

// Query runs SOQL and returns its first page; all selects queryAll (records
// in the recycle bin too). batchSize (200-2000; 0 for the default) is sent
// as Sforce-Query-Options.
func (c *Client) Query(ctx context.Context, soql string, all bool, batchSize int) (*QueryResult, error) {
	res := "query"
	if all {
		res = "queryAll"
	}
	r := request{op: res, method: http.MethodGet, path: c.DataPath(res), query: url.Values{"q": {soql}}, readOnly: true}
	if batchSize > 0 {
		r.header = http.Header{"Sforce-Query-Options": {fmt.Sprintf("batchSize=%d", batchSize)}}
	}
	var out QueryResult
	if _, err := c.do(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// QueryMore returns the page at a nextRecordsUrl.
func (c *Client) QueryMore(ctx context.Context, next string) (*QueryResult, error) {
	var out QueryResult
	if _, err := c.do(ctx, request{op: "queryMore", method: http.MethodGet, path: next, readOnly: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// QueryEach runs SOQL and calls fn with every record, following
// nextRecordsUrl to the last page.
func (c *Client) QueryEach(ctx context.Context, soql string, all bool, fn func(Record) error) error {
	page, err := c.Query(ctx, soql, all, 0)
	for {
		if err != nil {
			return err
		}
		for _, r := range page.Records {
			if err := fn(r); err != nil {
				return err
			}
		}
		if page.Done || page.NextRecordsURL == "" {
			return nil
		}
		page, err = c.QueryMore(ctx, page.NextRecordsURL)
	}
}

// SaveResult is one record's outcome in an sObject Collections call.
type SaveResult struct {
	ID      string     `json:"id"`
	Success bool       `json:"success"`
	Errors  []APIError `json:"errors"`
	Created *bool      `json:"created"`
}

type collection struct {
	AllOrNone bool     `json:"allOrNone"`
	Records   []Record `json:"records"`
}

// withType sets attributes.type on every record.
func withType(object string, recs []Record) []Record {
	out := make([]Record, len(recs))
	for i, r := range recs {
		cp := make(Record, len(r)+1)
		for k, v := range r {
			cp[k] = v
		}
		cp["attributes"] = map[string]string{"type": object}
		out[i] = cp
	}
	return out
}

func (c *Client) collection(ctx context.Context, op, method, path string, recs []Record) ([]SaveResult, error) {
	if len(recs) > MaxCollection {
		return nil, fmt.Errorf("%s: %d records, at most %d per call", op, len(recs), MaxCollection)
	}
	var out []SaveResult
	if _, err := c.do(ctx, request{op: op, method: method, path: path, body: collection{Records: recs}}, &out); err != nil {
		return nil, err
	}
	if len(out) != len(recs) {
		return nil, fmt.Errorf("%s: %d results for %d records", op, len(out), len(recs))
	}
	return out, nil
}

// Create inserts up to 200 records of object (allOrNone false).
func (c *Client) Create(ctx context.Context, object string, recs []Record) ([]SaveResult, error) {
	return c.collection(ctx, "create "+object, http.MethodPost, c.DataPath("composite/sobjects"), withType(object, recs))
}

// Update updates up to 200 records of object by their Id (allOrNone false).
func (c *Client) Update(ctx context.Context, object string, recs []Record) ([]SaveResult, error) {
	return c.collection(ctx, "update "+object, http.MethodPatch, c.DataPath("composite/sobjects"), withType(object, recs))
}

// Upsert creates or updates up to 200 records of object by the External ID
// field, which each record holds (allOrNone false).
func (c *Client) Upsert(ctx context.Context, object, field string, recs []Record) ([]SaveResult, error) {
	return c.collection(ctx, "upsert "+object, http.MethodPatch, c.DataPath("composite/sobjects/"+object+"/"+field), withType(object, recs))
}

// Delete moves up to 200 records to the recycle bin (allOrNone false).
func (c *Client) Delete(ctx context.Context, ids []string) ([]SaveResult, error) {
	if len(ids) > MaxCollection {
		return nil, fmt.Errorf("delete: %d records, at most %d per call", len(ids), MaxCollection)
	}
	var out []SaveResult
	_, err := c.do(ctx, request{op: "delete", method: http.MethodDelete, path: c.DataPath("composite/sobjects"),
		query: url.Values{"ids": {strings.Join(ids, ",")}, "allOrNone": {"false"}}}, &out)
	return out, err
}

// Field is one field as describe reports it.
type Field struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Custom     bool   `json:"custom"`
	ExternalID bool   `json:"externalId"`
	Unique     bool   `json:"unique"`
	Createable bool   `json:"createable"`
	Updateable bool   `json:"updateable"`
	Nillable   bool   `json:"nillable"`
	Label      string `json:"label"`
	Length     int    `json:"length"`
	// ReferenceTo names the objects a reference field points to.
	ReferenceTo []string `json:"referenceTo"`
}

// Describe is an sObject's describe.
type Describe struct {
	Name   string  `json:"name"`
	Label  string  `json:"label"`
	Fields []Field `json:"fields"`
}

// Field returns the named field (case-insensitive) or nil.
func (d *Describe) Field(name string) *Field {
	for i := range d.Fields {
		if strings.EqualFold(d.Fields[i].Name, name) {
			return &d.Fields[i]
		}
	}
	return nil
}

// Describe returns object's fields.
func (c *Client) Describe(ctx context.Context, object string) (*Describe, error) {
	var out Describe
	if _, err := c.do(ctx, request{op: "describe " + object, method: http.MethodGet, path: c.DataPath("sobjects/" + object + "/describe"), readOnly: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Objects lists the org's sObjects (describeGlobal).
func (c *Client) Objects(ctx context.Context) ([]Describe, error) {
	var out struct {
		SObjects []Describe `json:"sobjects"`
	}
	if _, err := c.do(ctx, request{op: "describe global", method: http.MethodGet, path: c.DataPath("sobjects"), readOnly: true}, &out); err != nil {
		return nil, err
	}
	return out.SObjects, nil
}

// CreateExternalIDField adds a unique, case-sensitive Text(255) External ID
// field object.name (name ends in __c) through the Tooling API.
func (c *Client) CreateExternalIDField(ctx context.Context, object, name, label string) error {
	body := map[string]any{"FullName": object + "." + name, "Metadata": map[string]any{
		"label": label, "type": "Text", "length": 255, "externalId": true, "unique": true, "caseSensitive": true,
		"description": "The id of this record in the other system, written by Concord. Do not edit.",
	}}
	_, err := c.do(ctx, request{op: "create field " + object + "." + name, method: http.MethodPost, path: c.DataPath("tooling/sobjects/CustomField"), body: body}, nil)
	return err
}

// Quote returns s as a SOQL string literal.
func Quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return "'" + r.Replace(s) + "'"
}
