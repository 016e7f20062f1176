package connector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// DecodeSettings decodes settings into dst (a pointer to a struct with json
// tags). Every unknown key and every value of the wrong type is reported, not
// the first only: each is a *SettingError naming its dotted path (an unknown
// key's error has Key set and suggests the nearest known key of its level, "did
// you mean table?"). What is left is still decoded into dst, so that callers
// can go on validating and report their own problems too. The returned error
// joins the problems (errors.Join); nil when there are none.
func DecodeSettings(settings map[string]any, dst any) error {
	t := reflect.TypeOf(dst)
	if t == nil || t.Kind() != reflect.Pointer {
		return fmt.Errorf("decode settings: want a pointer, got %T", dst)
	}
	var errs []error
	clean := checkSetting("", settings, t.Elem(), &errs)
	b, err := json.Marshal(clean)
	if err != nil {
		return fmt.Errorf("encode settings: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil && len(errs) == 0 {
		errs = append(errs, &SettingError{Msg: err.Error()})
	}
	return errors.Join(errs...)
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// checkSetting checks v against the Go type t the way encoding/json would
// decode it, appending a *SettingError per unknown key or wrong type to errs,
// and returns v without them.
func checkSetting(path string, v any, t reflect.Type, errs *[]error) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil || t.Kind() == reflect.Interface {
		return v
	}
	m, isMap := v.(map[string]any)
	// A type with its own decoding (a column name or an object) takes any
	// scalar; only its object form is checked here.
	if !isMap && reflect.PointerTo(t).Implements(unmarshalerType) {
		return v
	}
	want := func(what string) any {
		*errs = append(*errs, &SettingError{Path: path, Msg: fmt.Sprintf("want %s, got %s", what, describeSetting(v))})
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if !isMap {
			return want("a mapping")
		}
		fields := structFields(t)
		known := make([]string, 0, len(fields))
		for name := range fields {
			known = append(known, name)
		}
		sort.Strings(known)
		out := make(map[string]any, len(m))
		for _, k := range sortedSettingKeys(m) {
			ft, ok := fields[k]
			if !ok {
				se := &SettingError{Path: join(path, k), Key: true, Msg: fmt.Sprintf("unknown key %q%s", k, Suggest(k, known))}
				if meant := nearest(k, known); meant != "" {
					if _, given := m[meant]; !given {
						se.Meant = meant
					}
				}
				*errs = append(*errs, se)
				continue
			}
			if cv := checkSetting(join(path, k), m[k], ft, errs); cv != nil || m[k] == nil {
				out[k] = cv
			}
		}
		return out
	case reflect.Map:
		if !isMap {
			return want("a mapping")
		}
		out := make(map[string]any, len(m))
		for _, k := range sortedSettingKeys(m) {
			if cv := checkSetting(join(path, k), m[k], t.Elem(), errs); cv != nil || m[k] == nil {
				out[k] = cv
			}
		}
		return out
	case reflect.Slice, reflect.Array:
		s, ok := v.([]any)
		if !ok {
			return want("a list")
		}
		out := make([]any, 0, len(s))
		for i, it := range s {
			out = append(out, checkSetting(fmt.Sprintf("%s[%d]", path, i), it, t.Elem(), errs))
		}
		return out
	case reflect.String:
		if _, ok := v.(string); !ok {
			return want("a string")
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return want("true or false")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		switch n := v.(type) {
		case int, int64, uint64, json.Number:
		case float64:
			if n != float64(int64(n)) {
				return want("an integer")
			}
		default:
			return want("an integer")
		}
	case reflect.Float32, reflect.Float64:
		switch v.(type) {
		case int, int64, uint64, float64, json.Number:
		default:
			return want("a number")
		}
	}
	return v
}

// structFields maps the json names of t's exported fields to their types.
func structFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			if f.Anonymous {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					for n, typ := range structFields(ft) {
						out[n] = typ
					}
					continue
				}
			}
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func sortedSettingKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func describeSetting(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int64, uint64, json.Number:
		return "an integer"
	case float64:
		return "a number"
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}

// Suggest returns "; did you mean "X"?" for the known name nearest to got (at
// most two edits away, case ignored, or a name it begins), else "; known keys: a, b, c" (nothing
// when known is empty). It is for messages about unknown setting keys.
func Suggest(got string, known []string) string {
	switch best := nearest(got, known); {
	case best != "":
		return fmt.Sprintf("; did you mean %q?", best)
	case len(known) == 0:
		return ""
	}
	return "; known keys: " + strings.Join(known, ", ")
}

// nearest returns the known name got is most probably a misspelling of: at
// most two edits away, or (three letters at least) a prefix of it ("updated"
// for updated_at); "" when none is.
func nearest(got string, known []string) string {
	best, bestDist := "", 3
	lower := strings.ToLower(got)
	for _, k := range known {
		d := editDistance(lower, k)
		if len(lower) >= 3 && strings.HasPrefix(k, lower) {
			d = min(d, 2)
		}
		if d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
