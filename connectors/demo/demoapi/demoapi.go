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
