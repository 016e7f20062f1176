package pipedrive

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"
)

// record is one stored object. std holds the standard fields as decoded from
// JSON (numbers as json.Number, so amounts keep their digits), custom the
// custom fields by hash key.
type record struct {
	id      int
	add     time.Time
	upd     time.Time
	deleted bool
	std     map[string]any
	custom  map[string]any
	dealID  int // deal products only
}

// store is the state of the sandbox's company. Callers hold Server.mu.
type store struct {
	nextID  map[string]int
	objects map[string]map[int]*record
	fields  map[string][]*CustomField // by kind
	fieldID int
	stages  []Stage
}

// Stage is one stage of the default pipeline.
type Stage struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	PipelineID  int    `json:"pipeline_id"`
	OrderNr     int    `json:"order_nr"`
	Probability int    `json:"deal_probability"`
}

// DefaultStages are the stages of Pipedrive's default pipeline (id 1).
var DefaultStages = []Stage{
	{ID: 1, Name: "Qualified", PipelineID: 1, OrderNr: 1, Probability: 100},
	{ID: 2, Name: "Contact Made", PipelineID: 1, OrderNr: 2, Probability: 100},
	{ID: 3, Name: "Demo Scheduled", PipelineID: 1, OrderNr: 3, Probability: 100},
	{ID: 4, Name: "Proposal Made", PipelineID: 1, OrderNr: 4, Probability: 100},
	{ID: 5, Name: "Negotiations Started", PipelineID: 1, OrderNr: 5, Probability: 100},
}

func newStore() *store {
	s := &store{nextID: map[string]int{}, objects: map[string]map[int]*record{}, fields: map[string][]*CustomField{},
		stages: slices.Clone(DefaultStages)}
	for k := range kinds {
		s.objects[k] = map[int]*record{}
		s.nextID[k] = 1
	}
	return s
}

func (s *store) customField(kindName, key string) *CustomField {
	for _, f := range s.fields[kindName] {
		if f.Key == key {
			return f
		}
	}
	return nil
}

func (s *store) fieldByName(kindName, name string) *CustomField {
	for _, f := range s.fields[kindName] {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// defineField adds a custom field; its key is a 40-character hash as
// Pipedrive's are.
func (s *store) defineField(kindName string, f CustomField) (*CustomField, *apiError) {
	if !slices.Contains(customTypes, f.FieldType) {
		return nil, badRequest(fmt.Sprintf("field_type must be one of: %v", customTypes))
	}
	if f.Name == "" {
		return nil, badRequest("Parameter 'name' is required")
	}
	s.fieldID++
	sum := sha1.Sum([]byte(kindName + "\x00" + strconv.Itoa(s.fieldID) + "\x00" + f.Name))
	nf := &CustomField{ID: 1000 + s.fieldID, Key: hex.EncodeToString(sum[:]), Name: f.Name, FieldType: f.FieldType, EditFlag: true}
	for i, o := range f.Options {
		nf.Options = append(nf.Options, Option{ID: s.fieldID*100 + i + 1, Label: o.Label})
	}
	s.fields[kindName] = append(s.fields[kindName], nf)
	return nf, nil
}

// apply validates body against k and writes it into r (nil for a create).
func (s *store) apply(k *kind, r *record, body map[string]any, now time.Time) (*record, *apiError) {
	create := r == nil
	for key, v := range body {
		if key == "custom_fields" {
			m, ok := v.(map[string]any)
			if !ok {
				return nil, badRequest("Parameter 'custom_fields' must be an object")
			}
			for ck, cv := range m {
				f := s.customField(k.name, ck)
				if f == nil {
					return nil, badRequest(fmt.Sprintf("custom field '%s' does not exist", ck))
				}
				if err := checkCustom(f, cv); err != nil {
					return nil, badRequest(err.Error())
				}
			}
			continue
		}
		t, known := k.fields[key]
		if !known {
			return nil, badRequest(fmt.Sprintf("Parameter '%s' is not allowed for this endpoint", key))
		}
		if err := checkStd(key, t, v); err != nil {
			return nil, badRequest(err.Error())
		}
		if ref, ok := k.refs[key]; ok && v != nil {
			id, _ := strconv.Atoi(v.(json.Number).String())
			if o := s.objects[ref][id]; o == nil || o.deleted {
				return nil, badRequest(fmt.Sprintf("%s with id %d does not exist", kinds[ref].singular, id))
			}
		}
	}
	if create {
		for _, req := range k.required {
			if v, ok := body[req]; !ok || v == nil || v == "" {
				return nil, badRequest(fmt.Sprintf("Parameter '%s' is required", req))
			}
		}
		if k.name == Persons && body["name"] == nil && body["first_name"] == nil && body["last_name"] == nil {
			return nil, badRequest("Parameter 'name' is required")
		}
	}
	if k.name == Deals {
		if id, ok := body["stage_id"].(json.Number); ok {
			n, _ := id.Int64()
			if !slices.ContainsFunc(s.stages, func(st Stage) bool { return st.ID == int(n) }) {
				return nil, badRequest(fmt.Sprintf("stage with id %d does not exist", n))
			}
		}
	}
	if create {
		r = &record{id: s.nextID[k.name], add: now, std: map[string]any{}, custom: map[string]any{}}
		s.nextID[k.name]++
	} else {
		r = &record{id: r.id, add: r.add, std: maps.Clone(r.std), custom: maps.Clone(r.custom), dealID: r.dealID}
	}
	r.upd = now
	prevStatus, _ := r.std["status"].(string)
	for key, v := range body {
		if key == "custom_fields" {
			maps.Copy(r.custom, v.(map[string]any))
			continue
		}
		r.std[key] = v
	}
	s.normalise(k, r, prevStatus, body, now)
	return r, nil
}

// normalise fills what Pipedrive computes: a person's name from its parts,
// a deal's status times and stage defaults, a deal product's sum.
func (s *store) normalise(k *kind, r *record, prevStatus string, body map[string]any, now time.Time) {
	ts := now.UTC().Format(time.RFC3339)
	switch k.name {
	case Persons:
		if _, given := body["name"]; !given && (body["first_name"] != nil || body["last_name"] != nil) {
			first, _ := r.std["first_name"].(string)
			last, _ := r.std["last_name"].(string)
			switch {
			case first == "":
				r.std["name"] = last
			case last == "":
				r.std["name"] = first
			default:
				r.std["name"] = first + " " + last
			}
		}
	case Deals:
		if r.std["status"] == nil {
			r.std["status"] = "open"
		}
		if r.std["pipeline_id"] == nil {
			r.std["pipeline_id"] = json.Number("1")
		}
		if r.std["stage_id"] == nil {
			r.std["stage_id"] = json.Number(strconv.Itoa(s.stages[0].ID))
		}
		if r.std["currency"] == nil {
			r.std["currency"] = "USD"
		}
		if r.std["value"] == nil {
			r.std["value"] = json.Number("0")
		}
		status := r.std["status"].(string)
		if status != prevStatus {
			switch status {
			case "won":
				if body["won_time"] == nil {
					r.std["won_time"] = ts
				}
				r.std["lost_time"] = nil
				r.std["close_time"] = r.std["won_time"]
			case "lost":
				if body["lost_time"] == nil {
					r.std["lost_time"] = ts
				}
				r.std["won_time"] = nil
				r.std["close_time"] = r.std["lost_time"]
			case "open":
				r.std["won_time"], r.std["lost_time"], r.std["close_time"] = nil, nil, nil
			}
		}
	case dealProducts:
		if r.std["discount_type"] == nil {
			r.std["discount_type"] = "percentage"
		}
		if r.std["discount"] == nil {
			r.std["discount"] = json.Number("0")
		}
		if r.std["is_enabled"] == nil {
			r.std["is_enabled"] = true
		}
		r.std["sum"] = dealProductSum(r.std)
	}
}

// render returns r as the v2 API shows it.
func (s *store) render(k *kind, r *record) map[string]any {
	out := make(map[string]any, len(r.std)+6)
	for key := range k.fields {
		out[key] = nil
	}
	maps.Copy(out, r.std)
	out["id"] = r.id
	out["add_time"] = r.add.UTC().Format(time.RFC3339)
	out["update_time"] = r.upd.UTC().Format(time.RFC3339)
	if k.name == dealProducts {
		out["deal_id"] = r.dealID
		if d := s.objects[Deals][r.dealID]; d != nil {
			out["currency"] = d.std["currency"]
		}
		return out
	}
	out["is_deleted"] = r.deleted
	custom := map[string]any{}
	for _, f := range s.fields[k.name] {
		custom[f.Key] = r.custom[f.Key]
	}
	out["custom_fields"] = custom
	if k.name == Deals && r.deleted {
		out["status"] = "deleted"
	}
	return out
}
