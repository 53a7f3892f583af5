// Package demoapi is the demo CRM's HTTP API as both sides of it know it:
// the server (package democrm) and the connector that reads it (package
// demo). It holds only the contract, so that neither side imports the
// other.
//
// A listing is GET APIPrefix+"{type}" with the query parameters below,
// authenticated with "Authorization: Bearer <token>". Its 200 body is
//
//	{"records": [...], "next": "<keyset token, empty on the last page>",
//	 "server_time": "<RFC 3339>"}
//
// where each record is an object with "id", "modified_at" (RFC 3339, at
// microsecond resolution) and, for a tombstone, "deleted": true; any other
// error answer carries an ErrorBody.
package demoapi

const (
	// APIPrefix is the path under which the object types are listed.
	APIPrefix = "/api/v1/"

	// ParamModifiedSince (RFC 3339, inclusive) makes a listing incremental:
	// records modified since then, tombstones included. Without it a
	// listing holds the live records only.
	ParamModifiedSince = "modified_since"
	// ParamAfter is the "next" token of the previous page.
	ParamAfter = "after"
	// ParamLimit is the page size: DefaultLimit if absent, at most MaxLimit.
	ParamLimit = "limit"

	DefaultLimit = 100
	MaxLimit     = 1000
)

// ErrorBody is the body of an error response.
type ErrorBody struct {
	Error string `json:"error"`
}

// ObjectTypes are the object types the demo CRM serves, in the fixed order
// its seeding walks them.
func ObjectTypes() []string {
	return []string{"accounts", "contacts", "opportunities", "tasks", "notes", "users"}
}

// ParamFields limits a listing's records to these fields (comma-separated
// names from Fields), besides "id", "modified_at" and "deleted", which
// every record has. A name the object type does not have is a 400 naming
// it. Without it records carry every field.
const ParamFields = "fields"

// Field is one field of an object type's records. Type is "text",
// "number", "boolean", "date" (YYYY-MM-DD) or "timestamp" (RFC 3339).
type Field struct {
	Name, Type string
}

var fields = map[string][]Field{
	"accounts":      {{"name", "text"}, {"industry", "text"}, {"employees", "number"}, {"website", "text"}},
	"contacts":      {{"first_name", "text"}, {"last_name", "text"}, {"email", "text"}, {"account_id", "text"}},
	"opportunities": {{"name", "text"}, {"amount", "number"}, {"stage", "text"}, {"close_date", "date"}, {"account_id", "text"}},
	"tasks":         {{"subject", "text"}, {"status", "text"}, {"due_date", "date"}, {"owner_id", "text"}},
	"notes":         {{"title", "text"}, {"body", "text"}, {"parent_id", "text"}},
	"users":         {{"name", "text"}, {"email", "text"}, {"active", "boolean"}},
}

// Fields lists the fields of an object type's records besides "id",
// "modified_at" and "deleted"; nil for a type the demo CRM does not have.
func Fields(objectType string) []Field {
	return append([]Field(nil), fields[objectType]...)
}
