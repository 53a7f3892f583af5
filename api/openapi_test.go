package api

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/syncloop/syncloop/model"
)

// TestOpenAPIMatchesRoutes: the document describes exactly the routes the
// handler registers, with the same path and query parameters.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	file, err := os.ReadFile("openapi.json")
	require.NoError(t, err)
	require.Equal(t, file, openAPIDoc, "the embedded document is api/openapi.json")
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Parameters map[string]struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
				Required   []string       `json:"required"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(openAPIDoc, &doc))
	assert.True(t, strings.HasPrefix(doc.OpenAPI, "3.0."), doc.OpenAPI)

	type op struct {
		Parameters []struct {
			Ref  string `json:"$ref"`
			Name string `json:"name"`
			In   string `json:"in"`
		} `json:"parameters"`
		RequestBody json.RawMessage            `json:"requestBody"`
		Responses   map[string]json.RawMessage `json:"responses"`
		Security    *[]any                     `json:"security"`
	}
	var inDoc []string
	ops := map[string]op{}
	for path, item := range doc.Paths {
		for method, raw := range item {
			key := strings.ToUpper(method) + " " + path
			inDoc = append(inDoc, key)
			var o op
			require.NoError(t, json.Unmarshal(raw, &o), key)
			ops[key] = o
		}
	}
	var registered []string
	s := newServer(nil, Options{})
	for _, rt := range routes {
		registered = append(registered, rt.pattern())
		// The mux really routes a concrete request to this route.
		req := httptest.NewRequest(rt.method, concretePath(rt.path, model.ObjectKey{Tenant: "t", Provider: "p", ObjectType: "o"}), nil)
		_, pattern := s.mux.Handler(req)
		assert.Equal(t, rt.pattern(), pattern)
	}
	sort.Strings(inDoc)
	sort.Strings(registered)
	require.Equal(t, registered, inDoc, "OpenAPI operations vs registered routes")

	for _, rt := range routes {
		o := ops[rt.pattern()]
		var query, pathParams []string
		for _, p := range o.Parameters {
			if ref, ok := strings.CutPrefix(p.Ref, "#/components/parameters/"); ok {
				c, found := doc.Components.Parameters[ref]
				require.True(t, found, "%s: parameter %s", rt.pattern(), p.Ref)
				p.Name, p.In = c.Name, c.In
			}
			switch p.In {
			case "query":
				query = append(query, p.Name)
			case "path":
				pathParams = append(pathParams, p.Name)
			}
		}
		assert.ElementsMatch(t, rt.query, query, "%s: query parameters", rt.pattern())
		var wantPath []string
		for _, part := range strings.Split(rt.path, "/") {
			if strings.HasPrefix(part, "{") {
				wantPath = append(wantPath, strings.Trim(part, "{}"))
			}
		}
		assert.ElementsMatch(t, wantPath, pathParams, "%s: path parameters", rt.pattern())
		assert.Equal(t, rt.body, o.RequestBody != nil, "%s: request body", rt.pattern())
		assert.Equal(t, rt.public, o.Security != nil && len(*o.Security) == 0, "%s: security", rt.pattern())
		if !rt.public {
			assert.Contains(t, o.Responses, "401", rt.pattern())
		}
		if slices.Contains(rt.query, "force") {
			assert.Contains(t, o.Responses, "412", rt.pattern())
		}
		if rt.body {
			assert.Contains(t, o.Responses, "413", rt.pattern())
			assert.Contains(t, o.Responses, "415", rt.pattern())
		}
	}
	for _, key := range seedKeys {
		assert.Contains(t, doc.Components.Schemas["SyncStatus"].Properties, key)
	}
	assert.Subset(t, doc.Components.Schemas["Error"].Required, []string{"error", "code"})
}
