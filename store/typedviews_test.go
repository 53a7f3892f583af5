package store_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// uniqueKey is a key whose view no other test (in any schema) has: the
// views schema is shared by the database.
func uniqueKey(provider, objectType string) model.ObjectKey {
	return model.ObjectKey{Tenant: fmt.Sprintf("views-%d", rand.Uint32()), Provider: provider, ObjectType: objectType}
}

func viewRef(k model.ObjectKey) string {
	return pgx.Identifier{store.ViewsSchema, store.ViewName(k)}.Sanitize()
}

// A typed view has one typed column per field (nested paths included),
// external_id, modified_at and synced_at, live rows only; a value that does
// not cast is NULL and the view still answers; replacing it changes the
// columns; removing the object drops it.
func TestTypedView(t *testing.T) {
	s, ctx := newStore(t)
	k := uniqueKey("salesforce", "accounts")
	obj, _, err := s.AddObject(ctx, store.NewObject{Key: k, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	cols := []store.ViewColumn{
		{Name: "Name", Path: []string{"Name"}, Type: "text"},
		{Name: "AnnualRevenue", Path: []string{"AnnualRevenue"}, Type: "numeric"},
		{Name: "NumberOfEmployees", Path: []string{"NumberOfEmployees"}, Type: "bigint"},
		{Name: "IsActive__c", Path: []string{"IsActive__c"}, Type: "boolean"},
		{Name: "CloseDate", Path: []string{"CloseDate"}, Type: "date"},
		{Name: "SystemModstamp", Path: []string{"SystemModstamp"}, Type: "timestamptz"},
		{Name: "amount", Path: []string{"properties", "amount"}, Type: "numeric"},
		{Name: "BillingAddress", Path: []string{"BillingAddress"}, Type: "jsonb"},
		{Name: "modified_at", Path: []string{"modified_at"}, Type: "text"}, // collides with the view's own column
	}
	if err := s.ReplaceView(ctx, obj, cols); err != nil {
		t.Fatal(err)
	}
	syncCycle(t, s, k, "c1",
		rec("a", 1, `{"Name":"Acme","AnnualRevenue":1250000.5,"NumberOfEmployees":120,"IsActive__c":true,"CloseDate":"2024-05-01",`+
			`"SystemModstamp":"2024-05-01T10:00:00.000+0000","properties":{"amount":"99.5"},"BillingAddress":{"city":"Paris"},"modified_at":"x"}`),
		rec("b", 2, `{"Name":"Globex","AnnualRevenue":"n/a","NumberOfEmployees":"many","IsActive__c":"false","CloseDate":"2024-02-31",`+
			`"SystemModstamp":"yesterday","properties":{"amount":7}}`),
		rec("c", 3, `{"Name":"Initech","AnnualRevenue":10}`),
		tombstone("d", 4))

	var n int
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM `+viewRef(k)+` WHERE "AnnualRevenue" > 1000`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows with AnnualRevenue > 1000: %d, %v; want 1 (a numeric comparison, with n/a as NULL)", n, err)
	}
	var (
		name            string
		emp             *int64
		active          *bool
		closeDate       *time.Time
		stamp           *time.Time
		amount          *float64
		city            *string
		field           string
		external        string
		modified, synce time.Time
	)
	row := s.Pool.QueryRow(ctx, `SELECT external_id, modified_at, synced_at, "Name", "NumberOfEmployees", "IsActive__c", "CloseDate", "SystemModstamp",
		amount::float8, "BillingAddress"->>'city', field_modified_at FROM `+viewRef(k)+` WHERE external_id = 'a'`)
	if err := row.Scan(&external, &modified, &synce, &name, &emp, &active, &closeDate, &stamp, &amount, &city, &field); err != nil {
		t.Fatal(err)
	}
	want := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	if name != "Acme" || emp == nil || *emp != 120 || active == nil || !*active || closeDate == nil || closeDate.Format("2006-01-02") != "2024-05-01" ||
		stamp == nil || !stamp.Equal(want) || amount == nil || *amount != 99.5 || city == nil || *city != "Paris" || field != "x" || !modified.Equal(at(1)) || synce.IsZero() {
		t.Fatalf("row a: %s %v %v %v %v %v %v %v %q modified %s", name, emp, active, closeDate, stamp, amount, city, field, modified, modified)
	}
	row = s.Pool.QueryRow(ctx, `SELECT "NumberOfEmployees", "IsActive__c", "CloseDate", "SystemModstamp", amount::float8 FROM `+viewRef(k)+` WHERE external_id = 'b'`)
	if err := row.Scan(&emp, &active, &closeDate, &stamp, &amount); err != nil {
		t.Fatalf("a row with uncastable values breaks the view: %v", err)
	}
	if emp != nil || active == nil || *active || closeDate != nil || stamp != nil || amount == nil || *amount != 7 {
		t.Fatalf("row b: %v %v %v %v %v; want NULLs for what does not cast, false, 7", emp, active, closeDate, stamp, amount)
	}
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM `+viewRef(k)).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d rows, %v; want the 3 live records", n, err)
	}

	// A new field list replaces the view.
	if err := s.ReplaceView(ctx, obj, cols[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool.Exec(ctx, `SELECT "AnnualRevenue" FROM `+viewRef(k)); err == nil {
		t.Fatal("the replaced view still has AnnualRevenue")
	}
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM `+viewRef(k)+` WHERE "Name" LIKE 'G%'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("replaced view: %d, %v", n, err)
	}
	if err := s.DeleteObject(ctx, k); err != nil {
		t.Fatal(err)
	}
	var pgErr *pgconn.PgError
	if _, err := s.Pool.Exec(ctx, `SELECT 1 FROM `+viewRef(k)); !errors.As(err, &pgErr) || pgErr.Code != "42P01" {
		t.Fatalf("view after DeleteObject: %v; want undefined_table", err)
	}
}

// View names follow DESIGN.md, and long ones stay distinct within
// PostgreSQL's 63 bytes.
func TestViewName(t *testing.T) {
	if got := store.ViewName(model.ObjectKey{Tenant: "acme-eu", Provider: "salesforce", ObjectType: "widget__c"}); got != "acme_eu__salesforce__widget__c" {
		t.Fatalf("ViewName = %q", got)
	}
	long := strings.Repeat("t", 64)
	a := store.ViewName(model.ObjectKey{Tenant: long, Provider: "hubspot", ObjectType: "2-1234567"})
	b := store.ViewName(model.ObjectKey{Tenant: long, Provider: "hubspot", ObjectType: "2-1234568"})
	if len(a) > 63 || len(b) > 63 || a == b {
		t.Fatalf("long names %q and %q; want distinct names of at most 63 bytes", a, b)
	}
	_ = context.Background
}
