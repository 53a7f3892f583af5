package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/internal/jsonsplit"
)

var _ connectors.Catalogue = (*Connector)(nil)

// propertyDef is what the connector reads of a property definition of
// GET /crm/v3/properties/{objectType}.
type propertyDef struct {
	Name       string `json:"name"`
	Label      string `json:"label"`
	Type       string `json:"type"`
	FieldType  string `json:"fieldType"`
	Hidden     bool   `json:"hidden"`
	Calculated bool   `json:"calculated"`
	Archived   bool   `json:"archived"`
}

// schema is what the connector reads of a custom object schema of
// GET /crm/v3/schemas.
type schema struct {
	ObjectTypeID       string `json:"objectTypeId"`
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Labels             struct {
		Singular string `json:"singular"`
		Plural   string `json:"plural"`
	} `json:"labels"`
	Archived bool `json:"archived"`
}

// shortName is a schema's p_<name> form.
func (s schema) shortName() string { return "p_" + s.Name }

// names reports whether name addresses s (see the package documentation).
func (s schema) names(name string) bool {
	return strings.EqualFold(name, s.ObjectTypeID) || strings.EqualFold(name, s.shortName()) ||
		(s.FullyQualifiedName != "" && strings.EqualFold(name, s.FullyQualifiedName))
}

// defsEntry caches one object type's property definitions. Its lock is
// held while they are fetched, so concurrent callers wait for one request
// instead of sending their own; a failure is not cached.
type defsEntry struct {
	mu   sync.Mutex
	done bool
	defs []propertyDef
}

type schemasEntry struct {
	mu   sync.Mutex
	done bool
	list []schema
}

var standardLabels = map[string]string{
	"companies": "Companies", "contacts": "Contacts", "deals": "Deals", "tickets": "Tickets", "owners": "Owners",
}

// unknownType is the error for an object type HubSpot does not have.
func unknownType(name string) error {
	return connectors.Errorf(connectors.Config,
		"HubSpot account has no object type %q; see `syncloop connections objects <connection>` for the ones it has", name)
}

// spec returns how to read objectType: a configured spec, or one built
// from the properties endpoint (standard types and custom objects).
func (c *Connector) spec(ctx context.Context, objectType string) (*objectSpec, error) {
	if s := c.configured[objectType]; s != nil {
		return s, nil
	}
	c.cacheMu.Lock()
	s := c.resolved[objectType]
	c.cacheMu.Unlock()
	if s != nil {
		return s, nil
	}
	mod, ok := standardTypes[objectType]
	if !ok {
		if !validName(objectType) {
			return nil, unknownType(objectType)
		}
		if _, err := c.findSchema(ctx, objectType); err != nil {
			return nil, err
		}
		mod = "hs_lastmodifieddate"
	}
	defs, err := c.properties(ctx, objectType)
	if err != nil {
		return nil, err
	}
	s = &objectSpec{name: objectType, path: "/crm/v3/objects/" + objectType, modProp: mod,
		props: defaultList(defs, mod)}
	c.cacheMu.Lock()
	c.resolved[objectType] = s
	c.cacheMu.Unlock()
	return s, nil
}

// alwaysRead are the properties read whatever the object's list: the id,
// the modified property and the merged ids.
func alwaysRead(modProp string) []string {
	return []string{"hs_object_id", modProp, mergedProp}
}

// defaultList is the properties read by default: every property listed
// that is not archived (see the package documentation), in the listed
// order, then those always read.
func defaultList(defs []propertyDef, modProp string) []string {
	var out []string
	for _, d := range defs {
		if _, why := defaultField(d); why == "" && !slices.Contains(out, d.Name) {
			out = append(out, d.Name)
		}
	}
	for _, p := range alwaysRead(modProp) {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// defaultField says whether a listed property is read by default, and why
// not.
func defaultField(d propertyDef) (bool, string) {
	if d.Archived {
		return false, "archived property"
	}
	return true, ""
}

// properties returns objectType's property definitions, fetched once per
// Connector.
func (c *Connector) properties(ctx context.Context, objectType string) ([]propertyDef, error) {
	c.cacheMu.Lock()
	e := c.defs[objectType]
	if e == nil {
		e = &defsEntry{}
		c.defs[objectType] = e
	}
	c.cacheMu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done {
		return e.defs, nil
	}
	resp, err := c.do(ctx, http.MethodGet, c.endpoint("/crm/v3/properties/"+objectType, nil), nil, objectType, false)
	if err != nil {
		return nil, err
	}
	defs, err := decodeProperties(resp.body)
	if err != nil {
		return nil, err
	}
	e.defs, e.done = defs, true
	return defs, nil
}

// customSchemas returns the account's custom object schemas, fetched once
// per Connector.
func (c *Connector) customSchemas(ctx context.Context) ([]schema, error) {
	e := &c.schemas
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done {
		return e.list, nil
	}
	resp, err := c.do(ctx, http.MethodGet, c.endpoint("/crm/v3/schemas", nil), nil, "custom object schemas", false)
	if err != nil {
		return nil, err
	}
	list, err := decodeSchemas(resp.body)
	if err != nil {
		return nil, err
	}
	e.list, e.done = list, true
	return list, nil
}

// findSchema returns the custom object name addresses, or a Config error.
func (c *Connector) findSchema(ctx context.Context, name string) (schema, error) {
	list, err := c.customSchemas(ctx)
	if err != nil {
		return schema{}, err
	}
	for _, s := range list {
		if s.names(name) {
			return s, nil
		}
	}
	return schema{}, unknownType(name)
}

// ObjectTypes lists the standard object types (companies, contacts, deals,
// tickets, owners: those this connector and its test server know; other
// standard objects such as line_items are read by naming their properties
// in Config.Properties), then the account's custom objects, named by
// objectTypeId with p_<name> as ProviderName (FetchPage takes either, and
// the fullyQualifiedName). Every CRM object is incremental (searched by its
// modified property); owners are not: every cycle lists them all (see the
// package documentation).
func (c *Connector) ObjectTypes(ctx context.Context) ([]connectors.ObjectType, error) {
	var out []connectors.ObjectType
	for _, name := range ObjectTypes() {
		out = append(out, connectors.ObjectType{Name: name, Label: standardLabels[name], Incremental: name != "owners"})
	}
	list, err := c.customSchemas(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range list {
		label := s.Labels.Plural
		if label == "" {
			label = s.Labels.Singular
		}
		out = append(out, connectors.ObjectType{Name: s.ObjectTypeID, ProviderName: s.shortName(), Label: label,
			Custom: true, Incremental: true})
	}
	return out, nil
}

// ownerFields are the fields of an owner as GET /crm/v3/owners returns
// them ("Owners", https://developers.hubspot.com/docs/api-reference/crm-owners-v3/guide):
// the record's Data is the owner object as received.
var ownerFields = []connectors.Field{
	{Name: "id", Label: "Owner ID", Type: "string", Kind: connectors.KindText, Default: true},
	{Name: "email", Label: "Email", Type: "string", Kind: connectors.KindText, Default: true},
	{Name: "type", Label: "Type", Type: "enumeration", Kind: connectors.KindText, Default: true},
	{Name: "firstName", Label: "First name", Type: "string", Kind: connectors.KindText, Default: true},
	{Name: "lastName", Label: "Last name", Type: "string", Kind: connectors.KindText, Default: true},
	{Name: "userId", Label: "User ID", Type: "number", Kind: connectors.KindNumber, Default: true},
	{Name: "createdAt", Label: "Created at", Type: "datetime", Kind: connectors.KindTimestamp, Default: true},
	{Name: "updatedAt", Label: "Updated at", Type: "datetime", Kind: connectors.KindTimestamp, Default: true},
	{Name: "archived", Label: "Archived", Type: "bool", Kind: connectors.KindBoolean, Default: true},
	{Name: "teams", Label: "Teams", Type: "array", Kind: connectors.KindJSON, Default: true},
}

// Fields lists objectType's properties from the properties endpoint, each
// marked Default as a listing without Config.Properties reads it. Owners
// have their fixed fields. A type HubSpot does not have is a Config error.
func (c *Connector) Fields(ctx context.Context, objectType string) ([]connectors.Field, error) {
	if objectType == "owners" {
		return slices.Clone(ownerFields), nil
	}
	spec, err := c.spec(ctx, objectType) // refuses a type the account lacks
	if err != nil {
		return nil, err
	}
	defs, err := c.properties(ctx, objectType)
	if err != nil {
		return nil, err
	}
	always := alwaysRead(spec.modProp)
	out := make([]connectors.Field, 0, len(defs))
	for _, d := range defs {
		def, why := defaultField(d)
		out = append(out, connectors.Field{Name: d.Name, Label: d.Label, Type: d.Type, Kind: fieldKind(d.Type),
			Default: def, Excluded: why, Always: slices.Contains(always, d.Name), Path: []string{"properties", d.Name}})
	}
	return out, nil
}

// fieldKind maps a HubSpot property type ("Properties", "Property type and
// fieldType values") to a portable kind.
func fieldKind(t string) connectors.FieldKind {
	switch strings.ToLower(t) {
	case "string", "enumeration", "phone_number":
		return connectors.KindText
	case "number":
		return connectors.KindNumber
	case "bool":
		return connectors.KindBoolean
	case "date":
		return connectors.KindDate
	case "datetime":
		return connectors.KindTimestamp
	}
	return connectors.KindJSON
}

// resultsArray returns the elements of a body's "results" array, refusing
// anything else (a missing or null results must not read as "none").
func resultsArray(body []byte) ([]jsonsplit.Element, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n\ufeff")
	switch {
	case len(trimmed) == 0:
		return nil, malformed("the response body is empty")
	case trimmed[0] == '<':
		return nil, errHTML()
	}
	members, err := jsonsplit.Object(body)
	switch {
	case errors.Is(err, jsonsplit.ErrNotObject):
		return nil, malformed("the response is not a JSON object")
	case err != nil:
		return nil, malformed("the response is not valid JSON (truncated?)")
	}
	var results json.RawMessage
	for _, m := range members {
		if m.Key == "results" {
			results = m.Value
		}
	}
	elems, err := jsonsplit.Array(results)
	if err != nil {
		return nil, malformed(`"results" is not an array`)
	}
	return elems, nil
}

// decodeProperties parses a properties response. Every element must be an
// object with a valid name; anything else is a Retryable error, since a
// property list the connector cannot trust would silently change what is
// synced.
func decodeProperties(body []byte) ([]propertyDef, error) {
	elems, err := resultsArray(body)
	if err != nil {
		return nil, err
	}
	out := make([]propertyDef, 0, len(elems))
	for _, e := range elems {
		var d propertyDef
		if json.Unmarshal(e.Raw, &d) != nil || isNull(e.Raw) {
			return nil, malformed("a property definition is not an object")
		}
		if !validName(d.Name) {
			return nil, malformed("a property has an invalid name")
		}
		out = append(out, d)
	}
	return out, nil
}

// decodeSchemas parses a schemas response: archived schemas are dropped;
// a schema without a valid objectTypeId and name is a Retryable error.
func decodeSchemas(body []byte) ([]schema, error) {
	elems, err := resultsArray(body)
	if err != nil {
		return nil, err
	}
	var out []schema
	for _, e := range elems {
		var s schema
		if json.Unmarshal(e.Raw, &s) != nil || isNull(e.Raw) {
			return nil, malformed("a schema is not an object")
		}
		if !validName(s.ObjectTypeID) || !validName(s.Name) {
			return nil, malformed("a schema has no valid objectTypeId or name")
		}
		if !s.Archived {
			out = append(out, s)
		}
	}
	return out, nil
}

// urlReserve is room left in a list URL for the parameters besides the
// properties that vary by page (after, archived), so that the split of
// listProperties is the same for every page.
const urlReserve = 256

// listProperties splits spec's properties for list requests: those that
// fit in the URL (see maxURLLength and the package documentation), and
// the rest, read with a batch read. The properties always read come
// first, so they are in the list response. The split is decided once per
// spec: a record's data then has the same shape on every page and in
// every cycle (its hash decides whether it changed).
func (c *Connector) listProperties(spec *objectSpec) (inURL, rest []string) {
	spec.split.Do(func() {
		budget := c.maxURL - urlReserve
		q := url.Values{"limit": {strconv.Itoa(maxListPageSize)}}
		q.Set("properties", strings.Join(spec.props, ","))
		if len(c.endpoint(spec.path, q)) <= budget {
			spec.inURL = spec.props
			return
		}
		first := alwaysRead(spec.modProp)
		q.Set("properties", strings.Join(first, ","))
		size := len(c.endpoint(spec.path, q))
		spec.inURL = first
		for _, p := range spec.props {
			if slices.Contains(first, p) {
				continue
			}
			// The comma is escaped (%2C) in the query.
			if spec.inBody == nil && size+3+len(url.QueryEscape(p)) <= budget {
				spec.inURL = append(spec.inURL, p)
				size += 3 + len(url.QueryEscape(p))
				continue
			}
			spec.inBody = append(spec.inBody, p)
		}
	})
	return spec.inURL, spec.inBody
}

// batchReadBody is the body of POST /crm/v3/objects/{type}/batch/read.
type batchReadBody struct {
	Properties []string     `json:"properties"`
	Inputs     []batchInput `json:"inputs"`
}

type batchInput struct {
	ID string `json:"id"`
}

// completeRecords reads the properties rest of the page's records with a
// batch read and merges them into each record's properties; records the
// batch read reports not found are dropped (see the package
// documentation), any other record it leaves out makes the page retried.
func (c *Connector) completeRecords(ctx context.Context, spec *objectSpec, objects []object, rest []string, archived bool) ([]object, error) {
	body := batchReadBody{Properties: rest}
	for _, o := range objects {
		if o.rec.ExternalID != "" {
			body.Inputs = append(body.Inputs, batchInput{o.rec.ExternalID})
		}
	}
	if len(body.Inputs) == 0 {
		return objects, nil
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, connectors.Errorf(connectors.Config, "encoding the %s batch read: %v", spec.name, err)
	}
	var q url.Values
	if archived {
		q = url.Values{"archived": {"true"}}
	}
	resp, err := c.do(ctx, http.MethodPost, c.endpoint(spec.path+"/batch/read", q), payload, spec.name, false)
	if err != nil {
		return nil, err
	}
	dp, err := decodeListResponse(resp.body, spec.modProp)
	if err != nil {
		return nil, err
	}
	// Records not found are in "errors" (a 207: category OBJECT_NOT_FOUND,
	// context.ids): they left the listing since the page was read. Any
	// other record missing from the answer is a broken answer, retried,
	// never a record silently left out.
	var failed struct {
		Errors []struct {
			Category string              `json:"category"`
			Context  map[string][]string `json:"context"`
		} `json:"errors"`
	}
	_ = json.Unmarshal(resp.body, &failed) // the results decoded; errors are optional
	gone := map[string]bool{}
	for _, e := range failed.Errors {
		if e.Category == "OBJECT_NOT_FOUND" {
			for _, id := range e.Context["ids"] {
				gone[id] = true
			}
		}
	}
	more := map[string]map[string]json.RawMessage{}
	for _, o := range dp.objects {
		var rec struct {
			Properties map[string]json.RawMessage `json:"properties"`
		}
		if o.rec.ExternalID != "" && json.Unmarshal(o.rec.Data, &rec) == nil {
			more[o.rec.ExternalID] = rec.Properties
		}
	}
	out := objects[:0:0]
	for _, o := range objects {
		if o.rec.ExternalID == "" {
			out = append(out, o) // rejected by the pipeline anyway
			continue
		}
		props, ok := more[o.rec.ExternalID]
		switch {
		case !ok && gone[o.rec.ExternalID]:
			continue // it left the listing
		case !ok:
			return nil, malformed(fmt.Sprintf("the %s batch read left out record %s without saying why", spec.name, o.rec.ExternalID))
		}
		data, ok := mergeProperties(o.rec.Data, props)
		if !ok {
			return nil, malformed("a record's properties are not an object")
		}
		o.rec.Data = data
		out = append(out, o)
	}
	return out, nil
}

// mergeProperties returns the record data with more added to its
// "properties" object, which is re-encoded with sorted keys; the other
// members keep their bytes and order.
func mergeProperties(data json.RawMessage, more map[string]json.RawMessage) (json.RawMessage, bool) {
	members, err := jsonsplit.Object(data)
	if err != nil {
		return nil, false
	}
	var b bytes.Buffer
	b.WriteByte('{')
	found := false
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(m.Key)
		b.Write(key)
		b.WriteByte(':')
		if m.Key != "properties" || found {
			b.Write(m.Value)
			continue
		}
		found = true
		props := map[string]json.RawMessage{}
		if json.Unmarshal(m.Value, &props) != nil || props == nil {
			return nil, false
		}
		for k, v := range more {
			if _, ok := props[k]; !ok || isNull(props[k]) {
				props[k] = v
			}
		}
		enc, err := json.Marshal(props)
		if err != nil {
			return nil, false
		}
		b.Write(enc)
	}
	b.WriteByte('}')
	return b.Bytes(), found
}
