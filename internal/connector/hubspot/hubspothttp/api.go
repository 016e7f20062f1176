package hubspothttp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxBatch is the most inputs HubSpot accepts in one batch call.
const MaxBatch = 100

// MaxSearchLimit is the most results one search page returns.
const MaxSearchLimit = 200

// Object is a CRM record in the v3 shape. Property values are strings; a nil
// value is an unset property.
type Object struct {
	ID         string             `json:"id"`
	Properties map[string]*string `json:"properties"`
	CreatedAt  time.Time          `json:"createdAt"`
	UpdatedAt  time.Time          `json:"updatedAt"`
	Archived   bool               `json:"archived"`
	ArchivedAt *time.Time         `json:"archivedAt,omitempty"`
	// New is set by batch upsert: true when the call created the object.
	New *bool `json:"new,omitempty"`
}

// Value returns property name's value, "" when unset.
func (o Object) Value(name string) string {
	if v := o.Properties[name]; v != nil {
		return *v
	}
	return ""
}

// Input is one create, update or upsert input. Properties map to a string or
// nil (clear the value).
type Input struct {
	ID                 string             `json:"id,omitempty"`
	IDProperty         string             `json:"idProperty,omitempty"`
	Properties         map[string]*string `json:"properties"`
	Associations       []InlineAssoc      `json:"associations,omitempty"`
	ObjectWriteTraceID string             `json:"objectWriteTraceId,omitempty"`
}

// InlineAssoc associates a record created by a v3 create with an existing one.
type InlineAssoc struct {
	To    IDRef       `json:"to"`
	Types []AssocType `json:"types"`
}

// IDRef is {"id": "..."}.
type IDRef struct {
	ID string `json:"id"`
}

// AssocType is an association type: category HUBSPOT_DEFINED and a type id.
type AssocType struct {
	Category string `json:"associationCategory"`
	TypeID   int    `json:"associationTypeId"`
}

// BatchResult is a batch answer: 200/201 when every input succeeded, 207 when
// Errors lists per-input failures.
type BatchResult struct {
	Status    string   `json:"status"`
	Results   []Object `json:"results"`
	NumErrors int      `json:"numErrors"`
	Errors    []*Error `json:"errors"`
	// HTTPStatus is the answer's status code.
	HTTPStatus int `json:"-"`
}

func objectsPath(objectType string, rest ...string) string {
	p := "/crm/v3/objects/" + url.PathEscape(objectType)
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

func (c *Client) batch(ctx context.Context, objectType, op string, query url.Values, body any, idempotent bool) (*BatchResult, error) {
	var out BatchResult
	status, err := c.Do(ctx, Request{Method: http.MethodPost, Path: objectsPath(objectType, "batch", op), Query: query, Body: body, Idempotent: idempotent}, &out)
	if err != nil {
		return nil, err
	}
	out.HTTPStatus = status
	return &out, nil
}

// BatchRead reads up to MaxBatch objects by id, or by the unique idProperty
// when not empty. Missing ids are reported in the result's errors (207).
func (c *Client) BatchRead(ctx context.Context, objectType string, ids []string, idProperty string, properties []string, archived bool) (*BatchResult, error) {
	inputs := make([]IDRef, len(ids))
	for i, id := range ids {
		inputs[i] = IDRef{ID: id}
	}
	var q url.Values
	if archived {
		q = url.Values{"archived": {"true"}}
	}
	body := map[string]any{"inputs": inputs, "properties": properties}
	if idProperty != "" {
		body["idProperty"] = idProperty
	}
	return c.batch(ctx, objectType, "read", q, body, true)
}

// BatchUpsert creates or updates up to MaxBatch objects by a unique property:
// each input's ID is the property's value and IDProperty its name. A retry
// never duplicates.
func (c *Client) BatchUpsert(ctx context.Context, objectType string, inputs []Input) (*BatchResult, error) {
	return c.batch(ctx, objectType, "upsert", nil, map[string]any{"inputs": inputs}, true)
}

// BatchUpdate updates up to MaxBatch objects by id.
func (c *Client) BatchUpdate(ctx context.Context, objectType string, inputs []Input) (*BatchResult, error) {
	return c.batch(ctx, objectType, "update", nil, map[string]any{"inputs": inputs}, true)
}

// BatchCreate creates up to MaxBatch objects. It is not idempotent: it is
// retried after a 429 only.
func (c *Client) BatchCreate(ctx context.Context, objectType string, inputs []Input) (*BatchResult, error) {
	return c.batch(ctx, objectType, "create", nil, map[string]any{"inputs": inputs}, false)
}

// BatchArchive archives up to MaxBatch objects by id (HubSpot's delete, which
// keeps them restorable).
func (c *Client) BatchArchive(ctx context.Context, objectType string, ids []string) error {
	inputs := make([]IDRef, len(ids))
	for i, id := range ids {
		inputs[i] = IDRef{ID: id}
	}
	_, err := c.Do(ctx, Request{Method: http.MethodPost, Path: objectsPath(objectType, "batch", "archive"), Body: map[string]any{"inputs": inputs}, Idempotent: true}, nil)
	return err
}

// Filter is one search filter.
type Filter struct {
	PropertyName string `json:"propertyName"`
	Operator     string `json:"operator"`
	Value        string `json:"value,omitempty"`
	HighValue    string `json:"highValue,omitempty"`
}

// FilterGroup ANDs its filters; a search ORs its groups.
type FilterGroup struct {
	Filters []Filter `json:"filters"`
}

// Sort is one search sort.
type Sort struct {
	PropertyName string `json:"propertyName"`
	Direction    string `json:"direction"`
}

// SearchRequest is the body of POST /crm/v3/objects/{type}/search.
type SearchRequest struct {
	FilterGroups []FilterGroup `json:"filterGroups,omitempty"`
	Sorts        []Sort        `json:"sorts,omitempty"`
	Properties   []string      `json:"properties,omitempty"`
	Limit        int           `json:"limit,omitempty"`
	After        string        `json:"after,omitempty"`
}

// Paging holds the cursor of the next page.
type Paging struct {
	Next *struct {
		After string `json:"after"`
	} `json:"next,omitempty"`
}

// Page is one page of a list or search.
type Page struct {
	Total   int      `json:"total"`
	Results []Object `json:"results"`
	Paging  *Paging  `json:"paging,omitempty"`
}

// NextAfter returns the paging cursor of the next page, "" on the last page.
func (p *Page) NextAfter() string {
	if p.Paging == nil || p.Paging.Next == nil {
		return ""
	}
	return p.Paging.Next.After
}

// Search runs one search page. Search reads an index HubSpot updates
// asynchronously: a change becomes visible a short while after it is made.
func (c *Client) Search(ctx context.Context, objectType string, req SearchRequest) (*Page, error) {
	var out Page
	if _, err := c.Do(ctx, Request{Method: http.MethodPost, Path: objectsPath(objectType, "search"), Body: req, Search: true, Idempotent: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// List reads one page of GET /crm/v3/objects/{type} (archived ones when
// archived is true), limit at most 100.
func (c *Client) List(ctx context.Context, objectType string, after string, limit int, properties []string, archived bool) (*Page, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if after != "" {
		q.Set("after", after)
	}
	if len(properties) > 0 {
		q.Set("properties", strings.Join(properties, ","))
	}
	if archived {
		q.Set("archived", "true")
	}
	var out Page
	if _, err := c.Do(ctx, Request{Method: http.MethodGet, Path: objectsPath(objectType), Query: q, Idempotent: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Property is a property definition (the fields Concord uses).
type Property struct {
	Name           string `json:"name"`
	Label          string `json:"label"`
	Type           string `json:"type"`
	FieldType      string `json:"fieldType"`
	GroupName      string `json:"groupName"`
	Description    string `json:"description,omitempty"`
	HasUniqueValue bool   `json:"hasUniqueValue"`
	// Calculated and ModificationMetadata are only read: HubSpot computes a
	// calculated property, and one whose readOnlyValue is set refuses writes.
	Calculated           bool                  `json:"calculated,omitempty"`
	ModificationMetadata *ModificationMetadata `json:"modificationMetadata,omitempty"`
}

// ModificationMetadata says what may change on a property.
type ModificationMetadata struct {
	ReadOnlyValue bool `json:"readOnlyValue"`
}

// ReadOnly reports whether HubSpot refuses writes of the property's value.
func (p *Property) ReadOnly() bool {
	return p.Calculated || (p.ModificationMetadata != nil && p.ModificationMetadata.ReadOnlyValue)
}

// ListProperties reads every property definition of objectType (GET
// /crm/v3/properties/{objectType}); an unknown object type is an *Error with
// status 404 (or 400, as HubSpot answers some).
func (c *Client) ListProperties(ctx context.Context, objectType string) ([]Property, error) {
	var out struct {
		Results []Property `json:"results"`
	}
	if _, err := c.Do(ctx, Request{Method: http.MethodGet, Path: "/crm/v3/properties/" + url.PathEscape(objectType), Idempotent: true}, &out); err != nil {
		return nil, err
	}
	return out.Results, nil
}

// Schema is a custom object type's definition (GET /crm/v3/schemas).
type Schema struct {
	// Name is the object type's name; FullyQualifiedName (p123_cars) and
	// ObjectTypeID (2-123456) are accepted wherever an object type is.
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	ObjectTypeID       string `json:"objectTypeId"`
	Labels             struct {
		Singular string `json:"singular"`
		Plural   string `json:"plural"`
	} `json:"labels"`
}

// ListSchemas lists the portal's custom object types.
func (c *Client) ListSchemas(ctx context.Context) ([]Schema, error) {
	var out struct {
		Results []Schema `json:"results"`
	}
	if _, err := c.Do(ctx, Request{Method: http.MethodGet, Path: "/crm/v3/schemas", Idempotent: true}, &out); err != nil {
		return nil, err
	}
	return out.Results, nil
}

// TokenInfo is what HubSpot says about a private-app access token.
type TokenInfo struct {
	UserID int64    `json:"userId"`
	HubID  int64    `json:"hubId"`
	AppID  int64    `json:"appId"`
	Scopes []string `json:"scopes"`
}

// TokenInfo asks HubSpot which scopes the client's private-app token has (POST
// /oauth/v2/private-apps/get/access-token-info). Tokens of other kinds are
// refused with an *Error.
func (c *Client) TokenInfo(ctx context.Context) (*TokenInfo, error) {
	var out TokenInfo
	body := map[string]string{"tokenKey": c.token}
	if _, err := c.Do(ctx, Request{Method: http.MethodPost, Path: "/oauth/v2/private-apps/get/access-token-info", Body: body, Idempotent: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetProperty reads one property definition; a missing property is an *Error
// with status 404.
func (c *Client) GetProperty(ctx context.Context, objectType, name string) (*Property, error) {
	var out Property
	if _, err := c.Do(ctx, Request{Method: http.MethodGet, Path: "/crm/v3/properties/" + url.PathEscape(objectType) + "/" + url.PathEscape(name), Idempotent: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateProperty defines a custom property.
func (c *Client) CreateProperty(ctx context.Context, objectType string, p Property) (*Property, error) {
	var out Property
	if _, err := c.Do(ctx, Request{Method: http.MethodPost, Path: "/crm/v3/properties/" + url.PathEscape(objectType), Body: p}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AssocTargets are the records one record is associated with.
type AssocTargets struct {
	From IDRef `json:"from"`
	To   []struct {
		ToObjectID json.Number `json:"toObjectId"`
	} `json:"to"`
}

// BatchReadAssociations returns, per from id, the ids of the toType records
// associated with it (v4). Ids that do not exist are absent.
func (c *Client) BatchReadAssociations(ctx context.Context, fromType, toType string, ids []string) (map[string][]string, error) {
	inputs := make([]IDRef, len(ids))
	for i, id := range ids {
		inputs[i] = IDRef{ID: id}
	}
	var out struct {
		Results []AssocTargets `json:"results"`
	}
	if _, err := c.Do(ctx, Request{Method: http.MethodPost, Path: "/crm/v4/associations/" + url.PathEscape(fromType) + "/" + url.PathEscape(toType) + "/batch/read",
		Body: map[string]any{"inputs": inputs}, Idempotent: true}, &out); err != nil {
		return nil, err
	}
	res := make(map[string][]string, len(out.Results))
	for _, r := range out.Results {
		for _, t := range r.To {
			res[r.From.ID] = append(res[r.From.ID], t.ToObjectID.String())
		}
	}
	return res, nil
}

// AssocPair is one (from, to) pair to associate or dissociate.
type AssocPair struct {
	From IDRef `json:"from"`
	To   IDRef `json:"to"`
}

// BatchAssociateDefault creates the default association for each pair (v4).
// Per-pair failures come back as a 207 result's errors.
func (c *Client) BatchAssociateDefault(ctx context.Context, fromType, toType string, pairs []AssocPair) (*BatchResult, error) {
	var out struct {
		Errors []*Error `json:"errors"`
	}
	status, err := c.Do(ctx, Request{Method: http.MethodPost, Path: "/crm/v4/associations/" + url.PathEscape(fromType) + "/" + url.PathEscape(toType) + "/batch/associate/default",
		Body: map[string]any{"inputs": pairs}, Idempotent: true}, &out)
	if err != nil {
		return nil, err
	}
	return &BatchResult{HTTPStatus: status, Errors: out.Errors, NumErrors: len(out.Errors)}, nil
}

// BatchArchiveAssociations removes every association between each pair (v4).
func (c *Client) BatchArchiveAssociations(ctx context.Context, fromType, toType string, pairs []AssocPair) error {
	type input struct {
		From IDRef   `json:"from"`
		To   []IDRef `json:"to"`
	}
	inputs := make([]input, len(pairs))
	for i, p := range pairs {
		inputs[i] = input{From: p.From, To: []IDRef{p.To}}
	}
	_, err := c.Do(ctx, Request{Method: http.MethodPost, Path: "/crm/v4/associations/" + url.PathEscape(fromType) + "/" + url.PathEscape(toType) + "/batch/archive",
		Body: map[string]any{"inputs": inputs}, Idempotent: true}, nil)
	return err
}

// StatusOf returns the HTTP status of err when it is an *Error, else 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.StatusCode
	}
	return 0
}
