package e2e

import (
	"encoding/json"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors/hubspot/hstest"
	"github.com/syncloop/syncloop/connectors/salesforce/sftest"
	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/internal/testenv"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// psql runs one query with the real psql client, as a consumer would,
// and returns its unaligned output.
func psql(t *testing.T, query string) string {
	t.Helper()
	out, err := exec.Command("psql", testenv.TestURL(), "-X", "-v", "ON_ERROR_STOP=1", "-Atc", query).CombinedOutput()
	if err != nil {
		t.Fatalf("psql -c %q: %v: %s", query, err, out)
	}
	return strings.TrimSpace(string(out))
}

func viewOf(k model.ObjectKey) string { return store.ViewsSchema + "." + store.ViewName(k) }

// numbers are the snapshot's numbers at path (JSON numbers, or strings
// holding one, as HubSpot sends them).
func numbers(t *testing.T, snap map[string]json.RawMessage, path []string) []float64 {
	t.Helper()
	var out []float64
	for _, raw := range snap {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		for _, p := range path {
			m, _ := v.(map[string]any)
			v = m[p]
		}
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case string:
			var err error
			if f, err = strconv.ParseFloat(x, 64); err != nil {
				continue
			}
		default:
			continue
		}
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

// Every object has a typed view a consumer can query with psql: numeric
// comparisons on numbers, timestamps as timestamptz, for the demo,
// Salesforce and HubSpot connectors; a new field list replaces the view
// and a full cycle fills it.
func TestTypedViewsAnswerPsql(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{size: 60})
	sf := sftest.NewServer(sftest.Options{Size: 60, Seed: 51, Token: sfToken})
	sfSrv := httptest.NewServer(sf)
	t.Cleanup(sfSrv.Close)
	hs := hstest.NewServer(hstest.Options{Size: 60, Seed: 52, Token: hsToken})
	hsSrv := httptest.NewServer(hs)
	t.Cleanup(hsSrv.Close)

	demoKey := model.ObjectKey{Tenant: h.tenant, Provider: "demo", ObjectType: "accounts"}
	demoObj, _, err := h.svc.Add(h.ctx, control.AddRequest{Key: demoKey, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	_, sfObj := h.addConnected("salesforce", "acme-sf", sfSrv.URL, sfToken, "accounts", time.Hour)
	_, hsObj := h.addConnected("hubspot", "acme-hs", hsSrv.URL, hsToken, "companies", time.Hour)
	for _, obj := range []store.Object{demoObj, sfObj, hsObj} {
		if cs := h.waitCycles(obj, 1, time.Minute); cs[0].Status != model.StatusCompleted {
			t.Fatalf("%s: %s", obj.Key, describeCycles(cs))
		}
	}

	for _, c := range []struct {
		obj    store.Object
		snap   map[string]json.RawMessage
		column string
		path   []string
		stamp  string // a timestamptz column
	}{
		{demoObj, h.demo.Snapshot("accounts"), "employees", []string{"employees"}, "modified_at"},
		{sfObj, sf.Snapshot("accounts"), "AnnualRevenue", []string{"AnnualRevenue"}, "SystemModstamp"},
		{hsObj, hs.Snapshot("companies"), "numberofemployees", []string{"properties", "numberofemployees"}, "createdate"},
	} {
		// The median splits the records: a numeric comparison, not a
		// text one, counts those above it.
		nums := numbers(t, c.snap, c.path)
		if len(nums) < 10 || nums[0] == nums[len(nums)-1] {
			t.Fatalf("%s: numbers %v at %v; want a spread", c.obj.Key, nums, c.path)
		}
		over := nums[len(nums)/2]
		want := 0
		for _, f := range nums {
			if f > over {
				want++
			}
		}
		got := psql(t, `SELECT count(*) FROM `+viewOf(c.obj.Key)+` WHERE "`+c.column+`" > `+strconv.FormatFloat(over, 'f', -1, 64))
		if got != strconv.Itoa(want) {
			t.Fatalf("%s: psql counts %s rows with %s > %v; the provider has %d", c.obj.Key, got, c.column, over, want)
		}
		if typ := psql(t, `SELECT pg_typeof("`+c.stamp+`") FROM `+viewOf(c.obj.Key)+` LIMIT 1`); typ != "timestamp with time zone" {
			t.Fatalf("%s: %s is %s; want timestamptz", c.obj.Key, c.stamp, typ)
		}
		if n := psql(t, `SELECT count(*) FROM `+viewOf(c.obj.Key)+` WHERE "`+c.stamp+`" > now() - interval '400 days' AND "`+c.stamp+`" < now() + interval '1 day'`); n != strconv.Itoa(len(c.snap)) {
			t.Fatalf("%s: %s rows with a plausible %s; want all %d", c.obj.Key, n, c.stamp, len(c.snap))
		}
	}
	if typ := psql(t, `SELECT pg_typeof("NumberOfEmployees") FROM `+viewOf(sfObj.Key)+` LIMIT 1`); typ != "bigint" {
		t.Fatalf("Salesforce int NumberOfEmployees is %s; want bigint", typ)
	}

	// A new field list replaces the view, and a full cycle reads with it.
	if _, err := h.svc.SetFields(h.ctx, sfObj.Key, []string{"name", "AnnualRevenue"}); err != nil {
		t.Fatal(err)
	}
	cols := psql(t, `SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = '`+store.ViewsSchema+`' AND table_name = '`+store.ViewName(sfObj.Key)+`'`)
	if cols != "external_id,modified_at,synced_at,Id,Name,AnnualRevenue,SystemModstamp" {
		t.Fatalf("view columns after set-fields: %s", cols)
	}
	c := h.waitCycles(sfObj, 2, time.Minute)[1]
	if c.Status != model.StatusCompleted || !c.Full {
		t.Fatalf("cycle after set-fields %+v; want a Completed full cycle", c)
	}
	if keys := h.recordKeys(sfObj); keys["Industry"] || !keys["AnnualRevenue"] {
		t.Fatalf("record keys after the full cycle: %v; want Industry gone", keys)
	}
	if n := psql(t, `SELECT count(*) FROM `+viewOf(sfObj.Key)); n != "60" {
		t.Fatalf("view rows after set-fields: %s", n)
	}
	if err := h.svc.Remove(h.ctx, hsObj.Key); err != nil {
		t.Fatal(err)
	}
	if n := psql(t, `SELECT count(*) FROM information_schema.views WHERE table_schema = '`+store.ViewsSchema+`' AND table_name = '`+store.ViewName(hsObj.Key)+`'`); n != "0" {
		t.Fatalf("the removed object's view is still there")
	}
}
