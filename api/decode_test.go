package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/syncloop/syncloop/model"
)

func TestDecodeAddObject(t *testing.T) {
	req, err := decodeAddObject(strings.NewReader(` {"object":"acme/demo/accounts","interval":"1d12h","connection":"sf-prod"} `), 1024)
	require.NoError(t, err)
	assert.Equal(t, model.ObjectKey{Tenant: "acme", Provider: "demo", ObjectType: "accounts"}, req.Key)
	assert.Equal(t, 36*time.Hour, req.Interval)
	assert.Equal(t, "sf-prod", req.Connection)

	req, err = decodeAddObject(strings.NewReader(`{"object":"acme/demo/accounts"}`), 1024)
	require.NoError(t, err)
	assert.Zero(t, req.Interval, "no interval means the default")

	for body, want := range map[string]string{
		``:                                       "empty",
		`{}`:                                     `"object" is required`,
		`{"object":"acme/demo/accounts","x":1}`:  `unknown field "x"`,
		`{"object":1}`:                           `"object" must be a string`,
		`{"object":"a/b/c","interval":"10y"}`:    "between 1m and 7d",
		`{"object":"a/b/c"`:                      "truncated JSON",
		`{"object":"a/b/c"}x`:                    "after the JSON object",
		`{"object":"a/b/c",}`:                    "malformed JSON",
		`{"object":"a/b/c","connection":"x\ny"}`: "printable",
		"\u00a0{\"object\":\"a/b/c\"}":           "must be a JSON object",
	} {
		_, err := decodeAddObject(strings.NewReader(body), 1024)
		var ae *apiError
		require.ErrorAs(t, err, &ae, "body %q", body)
		assert.Equal(t, http.StatusBadRequest, ae.status, "body %q", body)
		assert.Contains(t, ae.msg, want, "body %q", body)
	}
	_, err = decodeAddObject(strings.NewReader(`{"object":"`+strings.Repeat("a", 2000)+`"}`), 1024)
	var ae *apiError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusRequestEntityTooLarge, ae.status)
	// A MaxBytesReader in front says the same.
	rec := httptest.NewRecorder()
	_, err = decodeAddObject(http.MaxBytesReader(rec, ioNopCloser{strings.NewReader(strings.Repeat(" ", 100))}, 10), 1024)
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusRequestEntityTooLarge, ae.status)
}

type ioNopCloser struct{ *strings.Reader }

func (ioNopCloser) Close() error { return nil }

func TestDecodeTriggerAndInterval(t *testing.T) {
	reason, err := decodeTrigger(strings.NewReader(""), 100)
	require.NoError(t, err)
	assert.Empty(t, reason)
	reason, err = decodeTrigger(strings.NewReader(`{"reason":"fixed"}`), 100)
	require.NoError(t, err)
	assert.Equal(t, "fixed", reason)
	_, err = decodeTrigger(strings.NewReader(`{"reason":"`+strings.Repeat("é", 501)+`"}`), 4096)
	assert.Error(t, err)

	d, err := decodeInterval(strings.NewReader(`{"interval":"30m"}`), 100)
	require.NoError(t, err)
	assert.Equal(t, 30*time.Minute, d)
	for _, body := range []string{`{"interval":""}`, `{"interval":"0"}`, `{"interval":"8d"}`, `{"interval":30}`, `{}`, `{"interval":"30m","x":1}`} {
		_, err := decodeInterval(strings.NewReader(body), 100)
		assert.Error(t, err, body)
	}
}

func TestParseQuery(t *testing.T) {
	for s, want := range map[string]bool{"": false, "false": false, "0": false, "true": true, "1": true} {
		got, err := parseForce(s)
		require.NoError(t, err, s)
		assert.Equal(t, want, got, s)
	}
	for _, s := range []string{"maybe", "TRUE ", "yes", "2"} {
		_, err := parseForce(s)
		assert.Error(t, err, s)
	}
	n, err := parseLimit("limit", "", 50, 1, 1000)
	require.NoError(t, err)
	assert.Equal(t, 50, n)
	n, err = parseLimit("limit", "1000", 50, 1, 1000)
	require.NoError(t, err)
	assert.Equal(t, 1000, n)
	for _, s := range []string{"abc", "0", "1001", "-1", "1.5", "99999999999999999999"} {
		_, err := parseLimit("limit", s, 50, 1, 1000)
		assert.Error(t, err, s)
	}
	assert.NoError(t, checkQuery(url.Values{"force": {"true"}}, []string{"force"}))
	assert.Error(t, checkQuery(url.Values{"forse": {"true"}}, []string{"force"}))
	assert.Error(t, checkQuery(url.Values{"force": {"true", "false"}}, []string{"force"}))
	assert.Error(t, checkQuery(url.Values{"x": {""}}, nil))
}

func TestCheckContentType(t *testing.T) {
	for _, ct := range []string{"", "application/json", "application/json; charset=utf-8", "Application/JSON", "application/merge-patch+json"} {
		assert.NoError(t, checkContentType(ct), ct)
	}
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "json", ";;"} {
		err := checkContentType(ct)
		var ae *apiError
		require.ErrorAs(t, err, &ae, ct)
		assert.Equal(t, http.StatusUnsupportedMediaType, ae.status)
	}
}

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

// Fuzz targets over the request decoding. Each must never panic, and
// every error must be a 400 or 413 apiError.

func checkDecodeErr(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ae *apiError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an apiError", err, err)
	}
	if ae.status != http.StatusBadRequest && ae.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d for a decoding error", ae.status)
	}
	if ae.msg == "" || ae.code == "" {
		t.Fatalf("error without message or code: %+v", ae)
	}
	if len(ae.msg) > 1200 {
		t.Fatalf("message of %d bytes echoes too much input", len(ae.msg))
	}
}

func FuzzDecodeAddObject(f *testing.F) {
	for _, s := range []string{
		`{"object":"acme/demo/accounts","interval":"30m"}`, `{"object":"a/b/c","connection":"x"}`, ``, `{`, `[]`, `null`,
		`{"object":"A/b/c"}`, `{"object":"a/b/c","interval":"10y"}`, `{"object":"a/b/c"} {}`, `{"x":1}`, `{"object":"a/b/c","interval":"1d-1h"}`,
		`{"object":"a/b/c","interval":"9223372036854775807d"}`, "{\"object\":\"a/b/c\",\"connection\":\"\\u0000\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := decodeAddObject(bytes.NewReader(data), 512)
		checkDecodeErr(t, err)
		if err != nil {
			return
		}
		if verr := req.Key.Validate(); verr != nil {
			t.Fatalf("accepted invalid key %+v: %v", req.Key, verr)
		}
		if req.Interval != 0 && model.ValidateInterval(req.Interval) != nil {
			t.Fatalf("accepted interval %v out of range", req.Interval)
		}
		if len(data) > 512 {
			t.Fatalf("accepted %d bytes over the limit", len(data))
		}
	})
}

func FuzzDecodeInterval(f *testing.F) {
	for _, s := range []string{`{"interval":"30m"}`, `{"interval":"1d12h"}`, `{"interval":"7d"}`, `{"interval":"7d1ns"}`,
		`{"interval":"-1d"}`, `{"interval":"d"}`, `{"interval":"365d-8759h"}`, `{"interval":" 5m "}`, `{"interval":30}`, `{}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := decodeInterval(bytes.NewReader(data), 256)
		checkDecodeErr(t, err)
		if err == nil && (d < model.MinInterval || d > model.MaxInterval) {
			t.Fatalf("accepted interval %v from %q", d, data)
		}
	})
}

func FuzzDecodeTrigger(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"reason":"x"}`, `{"reason":null}`, `{"reason":1}`, ` `, `{"reason":"\ud800"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		reason, err := decodeTrigger(bytes.NewReader(data), 2048)
		checkDecodeErr(t, err)
		if err == nil && len([]rune(reason)) > maxReasonLen {
			t.Fatalf("accepted a reason of %d characters", len([]rune(reason)))
		}
	})
}

func FuzzParseObjectPath(f *testing.F) {
	f.Add("acme", "demo", "accounts")
	f.Add("ACME", "x", "y")
	f.Add("a/b", "c", "d")
	f.Add("", "b", "c")
	f.Add(strings.Repeat("a", 65), "b", "c")
	f.Add("a", "b", "c\x00")
	f.Fuzz(func(t *testing.T, tenant, provider, object string) {
		k, err := parseObjectPath(tenant, provider, object)
		checkDecodeErr(t, err)
		if err != nil {
			return
		}
		back, perr := model.ParseObjectKey(k.String())
		if perr != nil || back != k {
			t.Fatalf("accepted %+v, which does not round-trip: %+v %v", k, back, perr)
		}
		if !strings.HasPrefix(k.WorkflowID(), "sync/") || strings.Count(k.String(), "/") != 2 {
			t.Fatalf("bad key %q", k)
		}
	})
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "force=true", "force=maybe", "limit=50", "limit=abc", "limit=1&limit=2", "forse=1", "%zz", "limit=-0", "limit=+5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		if err := checkQuery(q, []string{"force", "limit"}); err != nil {
			checkDecodeErr(t, err)
			return
		}
		_, err = parseForce(q.Get("force"))
		checkDecodeErr(t, err)
		n, err := parseLimit("limit", q.Get("limit"), defaultLimit, 1, maxLimit)
		checkDecodeErr(t, err)
		if err == nil && (n < 1 || n > maxLimit) {
			t.Fatalf("limit %d out of range from %q", n, raw)
		}
	})
}
