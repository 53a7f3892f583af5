package connectors

import "context"

// Catalogue is what a connector knows of its provider through the
// connection: the object types the connection can sync and the fields of
// each. `syncloop connections objects`, `objects add` (which validates the
// object type and a --fields list before anything is written) and
// `syncloop objects fields` use it. Every connector implements it.
type Catalogue interface {
	// ObjectTypes lists the object types the connection can read, in the
	// provider's order (standard types first).
	ObjectTypes(ctx context.Context) ([]ObjectType, error)
	// Fields lists the fields of objectType (a syncloop object type name)
	// that the connection can read. An object type the provider does not
	// have is a Config error naming it and the fix.
	Fields(ctx context.Context, objectType string) ([]Field, error)
}

// ObjectType is one entry of a provider's catalogue.
type ObjectType struct {
	// Name is the syncloop object type: "accounts", "widget__c",
	// "2-1234567". It is what `objects add <tenant>/<provider>/<Name>`
	// takes.
	Name string `json:"name"`
	// ProviderName is the provider's own name when it differs from Name
	// ("Account", "Widget__c", "p_widgets"); "" when it does not.
	ProviderName string `json:"provider_name,omitempty"`
	Label        string `json:"label,omitempty"`
	// Custom marks an object type the customer defined.
	Custom bool `json:"custom"`
	// Incremental says a cycle can ask for changes only, deletions
	// included (a modified-since filter and a deletions listing); false
	// means some changes (Salesforce objects that are not replicateable:
	// their deletions; HubSpot owners: everything) are seen only by a
	// full listing.
	Incremental bool `json:"incremental"`
}

// FieldKind is the portable type of a field, from which typed views take
// their column types.
type FieldKind string

// The field kinds.
const (
	KindText      FieldKind = "text"
	KindNumber    FieldKind = "number"
	KindBoolean   FieldKind = "boolean"
	KindDate      FieldKind = "date"
	KindTimestamp FieldKind = "timestamp"
	// KindJSON is any structured or unknown value, kept as it came.
	KindJSON FieldKind = "json"
)

// Field is one field (Salesforce) or property (HubSpot) of an object type.
type Field struct {
	// Name is the field's API name as it appears in a record's data.
	Name  string `json:"name"`
	Label string `json:"label,omitempty"`
	// Type is the provider's type name (Salesforce "double", "picklist",
	// "reference"; HubSpot "number", "enumeration").
	Type string    `json:"type"`
	Kind FieldKind `json:"kind"`
	// Default says the field is read when the object has no field list.
	Default bool `json:"default"`
	// Always says the field is read whatever the object's field list: the
	// id and the field changes are listed by.
	Always bool `json:"always,omitempty"`
	// Path is where the value sits in a record's data when that is not the
	// top-level key Name (HubSpot: ["properties", Name]).
	Path []string `json:"path,omitempty"`
	// Excluded says why a readable field is not read by default
	// ("compound field: its components are read", "base64 body"); "" for
	// default fields.
	Excluded string `json:"excluded,omitempty"`
}
