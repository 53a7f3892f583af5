package salesforce

import (
	"regexp"
	"slices"
	"strings"
	"time"
)

// sobject is how one syncloop object type maps to Salesforce.
type sobject struct {
	name string // the SObject's API name
	// fields is the default SELECT list.
	fields []string
	// deletable is false for User: users are deactivated, never deleted, so
	// there is no deleted phase.
	deletable bool
}

// objectTypes is syncloop's order of the object types.
var objectTypes = []string{"accounts", "contacts", "opportunities", "tasks", "notes", "users"}

// sobjects maps syncloop's object types to SObjects. The default fields are
// standard fields present in every org, always with Id and SystemModstamp.
var sobjects = map[string]sobject{
	"accounts": {name: "Account", deletable: true, fields: []string{
		"Id", "Name", "Industry", "AnnualRevenue", "NumberOfEmployees", "Website", "OwnerId",
		"CreatedDate", "LastModifiedDate", "SystemModstamp", "IsDeleted"}},
	"contacts": {name: "Contact", deletable: true, fields: []string{
		"Id", "FirstName", "LastName", "Email", "Phone", "Title", "AccountId", "OwnerId",
		"CreatedDate", "LastModifiedDate", "SystemModstamp", "IsDeleted"}},
	"opportunities": {name: "Opportunity", deletable: true, fields: []string{
		"Id", "Name", "AccountId", "Amount", "StageName", "CloseDate", "Probability", "IsClosed", "IsWon",
		"OwnerId", "CreatedDate", "LastModifiedDate", "SystemModstamp", "IsDeleted"}},
	"tasks": {name: "Task", deletable: true, fields: []string{
		"Id", "Subject", "Status", "Priority", "ActivityDate", "WhoId", "WhatId", "OwnerId", "IsClosed",
		"CreatedDate", "LastModifiedDate", "SystemModstamp", "IsDeleted"}},
	"notes": {name: "Note", deletable: true, fields: []string{
		"Id", "Title", "Body", "ParentId", "OwnerId", "IsPrivate",
		"CreatedDate", "LastModifiedDate", "SystemModstamp", "IsDeleted"}},
	"users": {name: "User", deletable: false, fields: []string{
		"Id", "Username", "Name", "FirstName", "LastName", "Email", "IsActive", "Title",
		"CreatedDate", "LastModifiedDate", "SystemModstamp"}},
}

// ObjectTypes returns the object types the connector reads: accounts,
// contacts, opportunities, tasks, notes and users (the Account, Contact,
// Opportunity, Task, Note and User SObjects).
func ObjectTypes() []string { return slices.Clone(objectTypes) }

// DefaultFields returns the default SELECT list of an object type, or nil
// if the type is unknown.
func DefaultFields(objectType string) []string {
	if o, ok := sobjects[objectType]; ok {
		return slices.Clone(o.fields)
	}
	return nil
}

// fieldNameRE is a field API name, possibly a relationship path
// (Owner.Name). Nothing else may reach a SOQL string.
var fieldNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,79}(\.[A-Za-z][A-Za-z0-9_]{0,79}){0,4}$`)

// normalizeFields validates a configured field list and makes sure Id and
// SystemModstamp come first, dropping duplicates (field names are
// case-insensitive in SOQL). It returns the offending name on error.
func normalizeFields(fields []string) ([]string, string) {
	out := []string{"Id", "SystemModstamp"}
	seen := map[string]bool{"id": true, "systemmodstamp": true}
	for _, f := range fields {
		f = strings.TrimSpace(f)
		if !fieldNameRE.MatchString(f) {
			return nil, f
		}
		if key := strings.ToLower(f); !seen[key] {
			seen[key] = true
			out = append(out, f)
		}
	}
	return out, ""
}

// buildSOQL returns the listing query: everything, or what changed since
// a time, in (SystemModstamp, Id) order.
func buildSOQL(sobjectName string, fields []string, since time.Time) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(strings.Join(fields, ", "))
	b.WriteString(" FROM ")
	b.WriteString(sobjectName)
	if !since.IsZero() {
		b.WriteString(" WHERE SystemModstamp >= ")
		b.WriteString(soqlDateTime(since))
	}
	b.WriteString(" ORDER BY SystemModstamp, Id")
	return b.String()
}

// soqlDateTime formats a SOQL dateTime literal in UTC with milliseconds,
// Salesforce's resolution. Finer digits are truncated, which can only widen
// a >= filter.
func soqlDateTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// sfTime parses a Salesforce dateTime as found in JSON
// ("2024-05-01T10:00:00.000+0000") or in RFC 3339 form.
func sfTime(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02T15:04:05Z0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
