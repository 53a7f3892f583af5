package hstest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
)

// propertyJSON is a property definition as the Properties API serves it:
// the fields of the "Property" schema of "Retrieve all properties for an
// object type" (GET /crm/v3/properties/{objectType},
// https://developers.hubspot.com/docs/api-reference/crm-properties-v3/core/get-crm-v3-properties-objectType)
// and the example of "Properties"
// (https://developers.hubspot.com/docs/api-reference/crm-properties-v3/guide).
type propertyJSON struct {
	UpdatedAt            string       `json:"updatedAt"`
	CreatedAt            string       `json:"createdAt"`
	Name                 string       `json:"name"`
	Label                string       `json:"label"`
	Type                 string       `json:"type"`
	FieldType            string       `json:"fieldType"`
	Description          string       `json:"description"`
	GroupName            string       `json:"groupName"`
	Options              []optionJSON `json:"options"`
	DisplayOrder         int          `json:"displayOrder"`
	Calculated           bool         `json:"calculated"`
	ExternalOptions      bool         `json:"externalOptions"`
	HasUniqueValue       bool         `json:"hasUniqueValue"`
	Hidden               bool         `json:"hidden"`
	HubspotDefined       bool         `json:"hubspotDefined,omitempty"`
	ModificationMetadata modMetaJSON  `json:"modificationMetadata"`
	FormField            bool         `json:"formField"`
	DataSensitivity      string       `json:"dataSensitivity"`
	Archived             bool         `json:"archived"`
}

type optionJSON struct {
	Label        string `json:"label"`
	Value        string `json:"value"`
	DisplayOrder int    `json:"displayOrder"`
	Hidden       bool   `json:"hidden"`
}

type modMetaJSON struct {
	Archivable         bool `json:"archivable"`
	ReadOnlyDefinition bool `json:"readOnlyDefinition"`
	ReadOnlyValue      bool `json:"readOnlyValue"`
}

func (t *table) propertiesJSON(created string) []propertyJSON {
	out := make([]propertyJSON, 0, len(t.spec.props))
	for i, name := range t.spec.props {
		d := t.spec.defs[name]
		if d == nil {
			continue
		}
		at := created
		if !d.created.IsZero() {
			at = formatTime(d.created)
		}
		p := propertyJSON{
			UpdatedAt: at, CreatedAt: at, Name: d.name, Label: d.label, Type: d.typ, FieldType: d.fieldType,
			GroupName: t.spec.name + d.group, Options: []optionJSON{}, DisplayOrder: i, Calculated: d.calculated,
			HasUniqueValue: d.name == "hs_object_id", Hidden: d.hidden, HubspotDefined: !d.custom,
			ModificationMetadata: modMetaJSON{Archivable: d.custom, ReadOnlyDefinition: !d.custom, ReadOnlyValue: d.calculated},
			FormField:            !d.hidden && !d.calculated, DataSensitivity: "non_sensitive",
		}
		for j, v := range d.options {
			p.Options = append(p.Options, optionJSON{Label: v, Value: v, DisplayOrder: j})
		}
		out = append(out, p)
	}
	return out
}

// properties serves GET /crm/v3/properties/{objectType}: {"results": […]},
// every property in one response (the endpoint has no paging). Callers
// hold s.mu.
//
//   - archived=true lists only archived properties ("Retrieve all
//     properties": "Whether to return only results that have been
//     archived"); the fake archives none, so that list is empty.
//   - dataSensitivity: "If you don't include this parameter when retrieving
//     properties, only non-sensitive properties will be returned"
//     ("Sensitive Data",
//     https://developers.hubspot.com/docs/api-reference/crm-sensitive-data/guide).
//     The fake has no sensitive properties: sensitive and highly_sensitive
//     list nothing, non_sensitive is the default.
func (o *responder) properties(t *table, q url.Values) {
	archived := false
	switch v := q.Get("archived"); v {
	case "", "false":
	case "true":
		archived = true
	default:
		o.error(http.StatusBadRequest, "VALIDATION_ERROR", fmt.Sprintf("archived must be true or false, not %q", v))
		return
	}
	var results []propertyJSON
	switch v := q.Get("dataSensitivity"); v {
	case "", "non_sensitive":
		if !archived {
			results = t.propertiesJSON(formatTime(o.s.created))
		}
	case "sensitive", "highly_sensitive":
	default:
		o.error(http.StatusBadRequest, "VALIDATION_ERROR", fmt.Sprintf("invalid dataSensitivity %q", v))
		return
	}
	if results == nil {
		results = []propertyJSON{}
	}
	o.results = len(results)
	o.writeJSON(map[string]any{"results": results})
}

// schemaJSON is a custom object schema as GET /crm/v3/schemas serves it
// ("Retrieve all custom object schemas",
// https://developers.hubspot.com/docs/api-reference/crm-schemas-v3/core/get-crm-object-schemas-v3-schemas).
type schemaJSON struct {
	ID                         string            `json:"id"`
	CreatedAt                  string            `json:"createdAt"`
	UpdatedAt                  string            `json:"updatedAt"`
	Labels                     map[string]string `json:"labels"`
	RequiredProperties         []string          `json:"requiredProperties"`
	SearchableProperties       []string          `json:"searchableProperties"`
	PrimaryDisplayProperty     string            `json:"primaryDisplayProperty"`
	SecondaryDisplayProperties []string          `json:"secondaryDisplayProperties"`
	Archived                   bool              `json:"archived"`
	Properties                 []propertyJSON    `json:"properties"`
	Associations               []any             `json:"associations"`
	MetaType                   string            `json:"metaType"`
	ObjectTypeID               string            `json:"objectTypeId"`
	FullyQualifiedName         string            `json:"fullyQualifiedName"`
	Name                       string            `json:"name"`
}

// schemas serves GET /crm/v3/schemas: the custom objects, in the order
// they were defined; "archived=true" lists archived schemas (none here).
// Callers hold s.mu.
func (o *responder) schemas(q url.Values) {
	out := []schemaJSON{}
	if q.Get("archived") != "true" {
		for _, t := range o.s.customTables() {
			sp := t.spec
			created := formatTime(o.s.created)
			if len(sp.extras) > 0 && !sp.extras[0].created.IsZero() {
				created = formatTime(sp.extras[0].created)
			}
			out = append(out, schemaJSON{
				ID: sp.schemaID, CreatedAt: created, UpdatedAt: created,
				Labels:                 map[string]string{"singular": sp.singular, "plural": sp.plural},
				RequiredProperties:     []string{sp.primaryDisplay},
				SearchableProperties:   []string{sp.primaryDisplay},
				PrimaryDisplayProperty: sp.primaryDisplay, SecondaryDisplayProperties: []string{},
				Properties:   t.propertiesJSON(created),
				Associations: []any{}, MetaType: "PORTAL_SPECIFIC",
				ObjectTypeID: sp.name, FullyQualifiedName: fullyQualifiedName(sp), Name: sp.schemaName,
			})
		}
	}
	o.results = len(out)
	o.writeJSON(map[string]any{"results": out})
}

// customTables returns the custom objects' tables in definition order.
// Callers hold s.mu.
func (s *Server) customTables() []*table {
	var out []*table
	for _, t := range s.tables {
		if t.spec.custom {
			out = append(out, t)
		}
	}
	// schema ids increase with definition
	slices.SortFunc(out, func(a, b *table) int {
		x, _ := strconv.Atoi(a.spec.schemaID)
		y, _ := strconv.Atoi(b.spec.schemaID)
		return x - y
	})
	return out
}

func (o *responder) writeJSON(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic("hstest: encoding a response: " + err.Error())
	}
	o.send(http.StatusOK, "application/json;charset=utf-8", b)
}

// BatchReadRequest is the body of POST /crm/v3/objects/{type}/batch/read.
type BatchReadRequest struct {
	Properties            []string     `json:"properties"`
	PropertiesWithHistory []string     `json:"propertiesWithHistory,omitempty"`
	IDProperty            string       `json:"idProperty,omitempty"`
	Inputs                []BatchInput `json:"inputs"`
}

// BatchInput names one record of a batch read.
type BatchInput struct {
	ID string `json:"id"`
}

// maxBatchInputs is the batch endpoints' limit: "Batch operations are
// limited to 100 records per request" (the batch read reference, e.g.
// "Retrieve a batch of companies",
// https://developers.hubspot.com/docs/api-reference/crm-companies-v3/batch/post-crm-v3-objects-companies-batch-read,
// and "Objects", https://developers.hubspot.com/docs/api/crm/understanding-the-crm).
const maxBatchInputs = 100

func readBatch(body io.Reader) (*BatchReadRequest, error) {
	return readJSONBody[BatchReadRequest](body, "batch read request")
}

// batchRead serves POST /crm/v3/objects/{type}/batch/read: the records
// named by inputs (hs_object_id only: idProperty and propertiesWithHistory
// are refused), with the properties asked for and those always returned,
// in input order. archived=true reads archived records instead of live
// ones. Records it cannot find are left out and reported in "errors"
// (category OBJECT_NOT_FOUND, context.ids) with HTTP 207, as the
// reference's 207 Multi-Status response describes; the docs do not give
// that error's exact shape. A merged-away record is not found: the
// documented aliasing of merged ids is not modelled (see Merge). Callers
// hold s.mu.
func (o *responder) batchRead(t *table, req *BatchReadRequest, q url.Values) {
	bad := func(format string, args ...any) {
		o.error(http.StatusBadRequest, "VALIDATION_ERROR", fmt.Sprintf(format, args...))
	}
	switch {
	case len(req.Inputs) == 0:
		bad("inputs must not be empty")
		return
	case len(req.Inputs) > maxBatchInputs:
		bad("at most %d inputs are allowed, not %d", maxBatchInputs, len(req.Inputs))
		return
	case req.IDProperty != "" && req.IDProperty != "hs_object_id", len(req.PropertiesWithHistory) > 0:
		bad("idProperty and propertiesWithHistory are not supported by this fake")
		return
	}
	archived := q.Get("archived") == "true"
	now := o.s.stamps.ServerTime()
	sel := selection(t.spec, req.Properties)
	var b bytes.Buffer
	b.WriteString(`{"status":"COMPLETE","results":[`)
	var missing []string
	n := 0
	for _, in := range req.Inputs {
		r := t.index[in.ID]
		ok := r != nil && r.mergedInto == ""
		if ok && archived {
			ok = o.s.inArchive(r, now)
		} else if ok {
			ok = !r.archived
		}
		if !ok {
			missing = append(missing, in.ID)
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		b.Write(t.render(r, sel))
		n++
	}
	at := formatTime(now)
	fmt.Fprintf(&b, `],"startedAt":%q,"completedAt":%q`, at, at)
	status := http.StatusOK
	if len(missing) > 0 {
		status = http.StatusMultiStatus
		e, _ := json.Marshal([]map[string]any{{
			"status": "error", "category": "OBJECT_NOT_FOUND",
			"message": "Could not get some " + t.spec.name + " objects, they may be deleted or not exist. Check that ids are valid.",
			"context": map[string][]string{"ids": missing},
		}})
		fmt.Fprintf(&b, `,"numErrors":1,"errors":%s`, e)
	}
	b.WriteByte('}')
	o.results = n
	o.send(status, "application/json;charset=utf-8", b.Bytes())
}
