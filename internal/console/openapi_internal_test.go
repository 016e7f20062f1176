package console

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOpenAPI_MatchesRoutes: every API route is in openapi.json with its
// method, and the document describes no route that does not exist.
func TestOpenAPI_MatchesRoutes(t *testing.T) {
	t.Parallel()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(openAPI, &doc))
	var documented, served []string
	for p, ops := range doc.Paths {
		for m := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+p)
		}
	}
	served = append(served, "GET /api/v1/openapi.json")
	for _, r := range (&Console{}).apiRoutes() {
		served = append(served, r.method+" "+r.path)
		require.Equal(t, r.method == "POST", r.change, "%s %s: changes are POSTs and only they", r.method, r.path)
	}
	slices.Sort(documented)
	slices.Sort(served)
	require.Equal(t, served, documented)
}
