package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/syncloop/syncloop/connectors/salesforce/sftest"
	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/secrets"
	"github.com/syncloop/syncloop/store"
)

// The catalogue commands ask the org through the connection: `connections
// objects` lists its object types (a custom one included), `objects
// fields` the fields the connection's user can read, with types; `objects
// add` refuses a type the org lacks and a field it cannot read (exit 2,
// one line, nothing written) and stores a --fields list in the org's
// spelling.
func TestCatalogueCommandsAskTheOrg(t *testing.T) {
	t.Setenv(secrets.EnvKey, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	t.Setenv("SL_CATALOGUE_TOKEN", "00Dcatalogue-token")
	sf := sftest.NewServer(sftest.Options{Size: 20, Seed: 5, Token: "00Dcatalogue-token"})
	widgets := sf.AddCustomObject("Widget__c", 5)
	sf.HideField("accounts", "AnnualRevenue")
	srv := httptest.NewServer(sf)
	t.Cleanup(srv.Close)
	tenant := uniqueTenant("catalogue-sf")
	conn := tenant + "-sf"
	mustRun(t, "connections", "add", conn, "--provider", "salesforce", "--base-url", srv.URL, "--token-env", "SL_CATALOGUE_TOKEN")

	var types []struct {
		Name        string `json:"name"`
		Custom      bool   `json:"custom"`
		Incremental bool   `json:"incremental"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "connections", "objects", conn, "--json").out), &types); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, ty := range types {
		names[ty.Name] = true
		if ty.Name == widgets && (!ty.Custom || !ty.Incremental) {
			t.Errorf("%s listed as %+v; want custom and incremental", widgets, ty)
		}
	}
	if !names["accounts"] || !names[widgets] || names["account"] {
		t.Fatalf("connections objects listed %v; want accounts and %s (and Account only under its alias)", names, widgets)
	}
	if out := mustRun(t, "connections", "objects", conn).out; !strings.Contains(out, "INCREMENTAL") || !strings.Contains(out, widgets) {
		t.Fatalf("connections objects table:\n%s", out)
	}

	accounts := tenant + "/salesforce/accounts"
	var fields []control.SyncedField
	if err := json.Unmarshal([]byte(mustRun(t, "objects", "fields", accounts, "--connection", conn, "--json").out), &fields); err != nil {
		t.Fatal(err)
	}
	byName := map[string]control.SyncedField{}
	for _, f := range fields {
		byName[f.Name] = f
	}
	if _, ok := byName["AnnualRevenue"]; ok {
		t.Errorf("objects fields lists AnnualRevenue, which field-level security hides")
	}
	if f := byName["Name"]; f.Kind != "text" || !f.Synced || !f.Default {
		t.Errorf("Name = %+v; want a synced default text field", f)
	}
	if f := byName["NumberOfEmployees"]; f.Kind != "number" || f.Type != "int" {
		t.Errorf("NumberOfEmployees = %+v; want Salesforce type int, kind number", f)
	}
	if out := mustRun(t, "objects", "fields", accounts, "--connection", conn).out; !strings.Contains(out, "FIELD") || !strings.Contains(out, "SystemModstamp") {
		t.Fatalf("objects fields table:\n%s", out)
	}

	// Refused before anything is written.
	for _, tc := range []struct{ args, want []string }{
		{[]string{tenant + "/salesforce/gadget__c"}, []string{"gadget__c", "connections objects"}},
		{[]string{accounts, "--fields", "Name,AnnualRevenue"}, []string{`"AnnualRevenue"`, "objects fields"}},
		{[]string{accounts, "--fields", "Name,Nope__c"}, []string{`"Nope__c"`}},
		{[]string{tenant + "/salesforce/contacts"}, []string{"needs a connection"}},
	} {
		args := append([]string{"objects", "add"}, tc.args...)
		if !slices.Contains(tc.args, tenant+"/salesforce/contacts") {
			args = append(args, "--connection", conn)
		}
		r := cli(t, args...)
		if r.code != 2 || r.err == nil || strings.ContainsAny(r.err.Error(), "\r\n") {
			t.Errorf("%v: %s; want exit 2 and one line", args, r)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(r.msg, w) {
				t.Errorf("%v: message %q; want it to name %s", args, r.msg, w)
			}
		}
		k := mustKey(t, tc.args[0])
		if _, err := testStore.GetObject(context.Background(), k); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("object %s after the refused add: %v; want none", k, err)
		}
		assertNoLoop(t, k)
	}

	// A field list in any case is stored in the org's spelling.
	mustRun(t, "objects", "add", accounts, "--connection", conn, "--fields", "name,INDUSTRY,name")
	obj, err := testStore.GetObject(context.Background(), mustKey(t, accounts))
	if err != nil || !slices.Equal(obj.Fields, []string{"Name", "Industry"}) {
		t.Fatalf("stored object %+v, %v; want fields [Name Industry]", obj, err)
	}
	fields = nil
	if err := json.Unmarshal([]byte(mustRun(t, "objects", "fields", accounts, "--json").out), &fields); err != nil {
		t.Fatal(err)
	}
	for _, f := range fields {
		if want := slices.Contains([]string{"Id", "SystemModstamp", "Name", "Industry"}, f.Name); f.Synced != want {
			t.Errorf("%s synced = %v; want %v", f.Name, f.Synced, want)
		}
	}

	// set-fields checks with the org too, and the view follows.
	if r := cli(t, "objects", "set-fields", accounts, "Name,AnnualRevenue"); r.code != 2 || !strings.Contains(r.msg, `"AnnualRevenue"`) {
		t.Fatalf("set-fields with a hidden field: %s; want exit 2 naming it", r)
	}
	out := mustRun(t, "objects", "set-fields", accounts, "Name,Website").out
	view := store.ViewsSchema + "." + store.ViewName(mustKey(t, accounts))
	if !strings.Contains(out, "Name, Website") || !strings.Contains(out, view) {
		t.Fatalf("set-fields printed %q; want the new list and the view %s", out, view)
	}
	if out := mustRun(t, "objects", "show", accounts).out; !strings.Contains(out, view) || !strings.Contains(out, "Name, Website") {
		t.Fatalf("objects show:\n%s\nwant the typed view and the field list", out)
	}
	var cols string
	if err := testStore.Pool.QueryRow(context.Background(), `SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns
		WHERE table_schema = $1 AND table_name = $2`, store.ViewsSchema, store.ViewName(mustKey(t, accounts))).Scan(&cols); err != nil || cols != "external_id,modified_at,synced_at,Id,Name,Website,SystemModstamp" {
		t.Fatalf("view columns %q, %v", cols, err)
	}
}

// Webhook kinds per object from the CLI: --webhook-kinds none, then
// set-webhook-kinds with a list, a bad kind (exit 2), and none to go back
// to the worker's.
func TestWebhookKindsFromTheCLI(t *testing.T) {
	id := uniqueTenant("kinds") + "/demo/accounts"
	mustRun(t, "objects", "add", id, "--webhook-kinds", "none")
	if out := mustRun(t, "objects", "show", id).out; !strings.Contains(out, "webhook kinds") || !strings.Contains(out, "nothing") {
		t.Fatalf("objects show:\n%s\nwant webhook kinds: nothing", out)
	}
	if r := cli(t, "objects", "set-webhook-kinds", id, "failing,cycle.started"); r.code != 2 || !strings.Contains(r.msg, `"cycle.started"`) {
		t.Fatalf("bad kind: %s; want exit 2 naming it", r)
	}
	if out := mustRun(t, "objects", "set-webhook-kinds", id, "failing,cycle.completed").out; !strings.Contains(out, "failing, cycle.completed") {
		t.Fatalf("set-webhook-kinds printed %q", out)
	}
	obj, err := testStore.GetObject(context.Background(), mustKey(t, id))
	if err != nil || !slices.Equal(obj.WebhookKinds, []string{"failing", "cycle.completed"}) {
		t.Fatalf("stored kinds %#v, %v", obj.WebhookKinds, err)
	}
	mustRun(t, "objects", "set-webhook-kinds", id)
	if obj, err = testStore.GetObject(context.Background(), mustKey(t, id)); err != nil || obj.WebhookKinds != nil {
		t.Fatalf("after set-webhook-kinds without a list: %#v, %v; want the worker's (nil)", obj.WebhookKinds, err)
	}
}
