package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/internal/httpx"
)

// The connector learns an org's object types and fields from two
// resources of the REST API:
//
//   - "Describe Global" (GET /services/data/vXX.X/sobjects,
//     https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_describeGlobal.htm)
//     "Lists the available objects and their metadata for your
//     organization's data": each entry's name, label, custom, queryable,
//     retrieveable, replicateable and deprecatedAndHidden
//     (DescribeGlobalSObjectResult, SOAP API,
//     https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_describeglobal_describeglobalresult.htm:
//     replicateable "Indicates whether this object can be replicated via
//     the API calls getUpdated() and getDeleted()").
//   - "sObject Describe" (GET /services/data/vXX.X/sobjects/SObject/describe,
//     https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_describe.htm)
//     "Completely describes the individual metadata at all levels for the
//     specified object", its fields among it (Field, SOAP API,
//     https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_describesobjects_describesobjectresult.htm):
//     name, label, type and compoundFieldName are read. describe lists the
//     fields the running user can see: field-level security hides the
//     others, so a default list built from it never names a field a query
//     would refuse.
//
// Both are cached per Connector (a Connector lives for one cycle's
// Retrieve activity), the describe per SObject.

// globalSObject is one entry of Describe Global, as the connector reads it.
type globalSObject struct {
	Name                string `json:"name"`
	Label               string `json:"label"`
	Custom              bool   `json:"custom"`
	Queryable           bool   `json:"queryable"`
	Retrieveable        bool   `json:"retrieveable"`
	Replicateable       bool   `json:"replicateable"`
	DeprecatedAndHidden bool   `json:"deprecatedAndHidden"`
}

// describeGlobalResult is a Describe Global response.
type describeGlobalResult struct {
	sobjects []globalSObject
}

// find returns the entry named name, case-insensitively (SObject names
// are case-insensitive in SOQL and in the REST paths).
func (g *describeGlobalResult) find(name string) (globalSObject, bool) {
	for _, o := range g.sobjects {
		if strings.EqualFold(o.Name, name) {
			return o, true
		}
	}
	return globalSObject{}, false
}

// describeField is one field of an sObject Describe.
type describeField struct {
	Name              string  `json:"name"`
	Label             string  `json:"label"`
	Type              string  `json:"type"`
	Custom            bool    `json:"custom"`
	CompoundFieldName *string `json:"compoundFieldName"`
}

// describeResult is an sObject Describe response.
type describeResult struct {
	name   string
	fields []describeField
}

// has reports whether the describe lists a field (case-insensitively).
func (d *describeResult) has(name string) bool {
	for _, f := range d.fields {
		if strings.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}

// maxDescribeFields bounds a describe's fields: Salesforce allows 800
// custom fields on an object in Unlimited Edition, and a few hundred
// standard ones.
const maxDescribeFields = 5000

// decodeDescribeGlobal parses a Describe Global response. It never
// panics; a body it cannot trust is a Retryable error (see malformed).
func decodeDescribeGlobal(body []byte) (*describeGlobalResult, error) {
	env, err := decodeEnvelope(body, "describe global")
	if err != nil {
		return nil, err
	}
	raw, ok := env["sobjects"]
	if !ok || isNull(raw) {
		return nil, malformed("describe global", `"sobjects" is missing`)
	}
	var list []globalSObject
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, malformed("describe global", `"sobjects" is not an array of sObject descriptions`)
	}
	// An entry without a usable name is left out: it cannot be synced, and
	// failing the whole catalogue over it would be retried forever.
	valid := list[:0]
	for _, o := range list {
		if o.Name != "" && fieldNameRE.MatchString(o.Name) && !strings.Contains(o.Name, ".") {
			valid = append(valid, o)
		}
	}
	return &describeGlobalResult{sobjects: valid}, nil
}

// decodeDescribe parses an sObject Describe response, with the promises of
// decodeDescribeGlobal.
func decodeDescribe(body []byte) (*describeResult, error) {
	env, err := decodeEnvelope(body, "describe")
	if err != nil {
		return nil, err
	}
	var res describeResult
	if raw, ok := env["name"]; !ok || json.Unmarshal(raw, &res.name) != nil || res.name == "" {
		return nil, malformed("describe", `"name" is not a non-empty string`)
	}
	raw, ok := env["fields"]
	if !ok || isNull(raw) {
		return nil, malformed("describe", `"fields" is missing`)
	}
	if err := json.Unmarshal(raw, &res.fields); err != nil {
		return nil, malformed("describe", `"fields" is not an array of field descriptions`)
	}
	if len(res.fields) > maxDescribeFields {
		return nil, malformed("describe", fmt.Sprintf("%d fields", len(res.fields)))
	}
	for _, f := range res.fields {
		if f.Name == "" || f.Type == "" {
			return nil, malformed("describe", fmt.Sprintf("a field has no name or type (%q)", truncate(f.Name)))
		}
	}
	return &res, nil
}

func truncate(s string) string { return httpx.Truncate(s, 80) }

// call is one cached fetch: waiters block on done, then read val and err.
type call[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// cache holds fetched values by key, fetching each once however many
// goroutines ask at the same time. A failed fetch is not kept.
type cache[T comparable] struct {
	mu    sync.Mutex
	calls map[string]*call[T]
}

// get returns the value of key, fetching it unless it is cached or being
// fetched.
func (c *cache[T]) get(ctx context.Context, key, doing string, fetch func(context.Context) (T, error)) (T, error) {
	c.mu.Lock()
	if c.calls == nil {
		c.calls = make(map[string]*call[T])
	}
	cl := c.calls[key]
	if cl == nil {
		cl = &call[T]{done: make(chan struct{})}
		c.calls[key] = cl
		c.mu.Unlock()
		cl.val, cl.err = fetch(ctx)
		if cl.err != nil {
			c.mu.Lock()
			if c.calls[key] == cl {
				delete(c.calls, key)
			}
			c.mu.Unlock()
		}
		close(cl.done)
		return cl.val, cl.err
	}
	c.mu.Unlock()
	select {
	case <-cl.done:
		return cl.val, cl.err
	case <-ctx.Done():
		var zero T
		return zero, httpx.TransportError(ctx, doing, ctx.Err())
	}
}

// forget drops key's value if it is still stale, so that the next get
// fetches it again; a value another goroutine fetched since stays.
func (c *cache[T]) forget(key string, stale T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl := c.calls[key]; cl != nil {
		select {
		case <-cl.done:
			if cl.val == stale {
				delete(c.calls, key)
			}
		default: // being fetched: that is a fresh value already
		}
	}
}

// describeGlobal returns the org's Describe Global, cached.
func (c *Connector) describeGlobal(ctx context.Context) (*describeGlobalResult, error) {
	const doing = "listing the org's object types (describe global)"
	return c.globals.get(ctx, "", doing, func(ctx context.Context) (*describeGlobalResult, error) {
		u := *c.base
		u.Path = "/services/data/" + c.version + "/sobjects"
		body, _, err := c.get(ctx, u.String(), 0, c.requestTimeout, doing)
		if err != nil {
			return nil, err
		}
		return decodeDescribeGlobal(body)
	})
}

// describe returns the sObject Describe of the SObject name, cached. An
// SObject the org does not have (404 NOT_FOUND) is a Config error naming
// objectType and the fix.
func (c *Connector) describe(ctx context.Context, name, objectType string) (*describeResult, error) {
	doing := "describing " + name
	return c.describes.get(ctx, strings.ToLower(name), doing, func(ctx context.Context) (*describeResult, error) {
		u := *c.base
		u.Path = "/services/data/" + c.version + "/sobjects/" + url.PathEscape(name) + "/describe"
		body, _, err := c.get(ctx, u.String(), 0, c.requestTimeout, doing)
		if errors.Is(err, errNotFound) {
			return nil, noSuchObjectType(objectType, err)
		}
		if err != nil {
			return nil, err
		}
		return decodeDescribe(body)
	})
}

// noSuchObjectType is the Config error for an object type the org does
// not have (or does not show the connected user).
func noSuchObjectType(objectType string, err error) error {
	return &connectors.Error{Kind: connectors.Config, Err: err, Message: fmt.Sprintf(
		"Salesforce org has no object type %q the connected user can query (see syncloop connections objects <connection> for those it has)",
		objectType)}
}

// Reasons a readable field is not in the default list.
const (
	excludedCompound = "compound field: its components are read"
	excludedBase64   = "base64 body: configure fields to read it"
	excludedName     = "not a field name the connector can select"
)

// excluded says why a described field is left out of the default list, or
// "".
//
//   - compound fields, of type address or location: "Compound Fields"
//     (SOAP API Developer Guide,
//     https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/compound_fields.htm)
//     group components that are fields of their own (BillingAddress of
//     BillingStreet, BillingCity…, each naming it in compoundFieldName);
//     the components are read, so that a record has each value once, in
//     plain columns. A compound name field (Contact.Name, whose
//     components FirstName and LastName name it) is a string and stays in.
//   - base64 fields (ContentNote.Content, Attachment.Body): "Blob data"
//     is read through the sObject Blob Get resource, one record at a time
//     ("sObject Blob Get",
//     https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_blob_retrieve.htm);
//     a query is not the place for a file. Configure Fields to select one.
func excluded(f describeField) string {
	switch {
	case f.Type == "address" || f.Type == "location":
		return excludedCompound
	case f.Type == "base64":
		return excludedBase64
	case !fieldNameRE.MatchString(f.Name) || strings.Contains(f.Name, "."):
		return excludedName
	}
	return ""
}

// defaultFields is the default SELECT list of an SObject: every described
// field but the excluded ones, Id and the cursor field first.
func defaultFields(d *describeResult, cursor string) []string {
	var names []string
	for _, f := range d.fields {
		if excluded(f) == "" {
			names = append(names, f.Name)
		}
	}
	out, _ := normalizeFields(names, cursor) // names are valid: excluded checked them
	return out
}

// target is a resolved object type: where and how to list it.
type target struct {
	obj sobject
	// fields is the SELECT list; configured says it is Config.Fields'
	// (else it is the default list from desc).
	fields     []string
	configured bool
	desc       *describeResult // nil for a configured alias
}

// lookup finds objectType in the org: the SObject, and its describe.
// Aliases are described only when needed (needDescribe).
func (c *Connector) lookup(ctx context.Context, objectType string, needDescribe bool) (sobject, *describeResult, error) {
	if obj, ok := sobjects[objectType]; ok {
		if !needDescribe {
			return obj, nil, nil
		}
		d, err := c.describe(ctx, obj.name, objectType)
		return obj, d, err
	}
	if err := checkObjectTypeName(objectType); err != nil {
		return sobject{}, nil, err
	}
	global, err := c.describeGlobal(ctx)
	if err != nil {
		return sobject{}, nil, err
	}
	entry, ok := global.find(objectType)
	if !ok {
		return sobject{}, nil, noSuchObjectType(objectType, nil)
	}
	if !entry.Queryable {
		return sobject{}, nil, connectors.Errorf(connectors.Config,
			"Salesforce object type %q (%s) cannot be queried; it cannot be synced", objectType, entry.Name)
	}
	d, err := c.describe(ctx, entry.Name, objectType)
	if err != nil {
		return sobject{}, nil, err
	}
	// The cursor: SystemModstamp, else LastModifiedDate (as ContentNote).
	// An object with neither cannot be listed in cursor order, so neither
	// a full listing (which is sliced by it) nor an incremental one works:
	// it is refused rather than listed whole every cycle.
	obj := sobject{name: entry.Name, deletable: entry.Replicateable}
	switch {
	case d.has(systemModstamp):
		obj.cursor = systemModstamp
	case d.has(lastModifiedDate):
		obj.cursor = lastModifiedDate
	default:
		return sobject{}, nil, connectors.Errorf(connectors.Config,
			"Salesforce object type %q (%s) cannot sync incrementally: no SystemModstamp or LastModifiedDate", objectType, entry.Name)
	}
	return obj, d, nil
}

// checkObjectTypeName refuses what cannot be a non-alias object type: a
// name that is not syncloop's, and the lower-case name of an aliased
// SObject.
func checkObjectTypeName(objectType string) error {
	if alias, ok := aliasOf[objectType]; ok {
		return connectors.Errorf(connectors.Config,
			"Salesforce object type %q is synced as %q: use %q", objectType, alias, alias)
	}
	if !objectTypeRE.MatchString(objectType) {
		return connectors.Errorf(connectors.Config,
			"%q is not a Salesforce object type: use an alias (%s) or an SObject's API name in lower case (widget__c)",
			truncate(objectType), strings.Join(objectTypes, ", "))
	}
	return nil
}

// resolve returns how to list objectType: its SObject and field list.
func (c *Connector) resolve(ctx context.Context, objectType string) (*target, error) {
	configured, isConfigured := c.fields[objectType]
	_, alias := sobjects[objectType]
	obj, d, err := c.lookup(ctx, objectType, !(alias && isConfigured))
	if err != nil {
		return nil, err
	}
	t := &target{obj: obj, desc: d, configured: isConfigured}
	if isConfigured {
		t.fields, _ = normalizeFields(configured, obj.cursor) // validated by New
	} else {
		t.fields = defaultFields(d, obj.cursor)
	}
	if err := c.checkQueryLength(objectType, t); err != nil {
		return nil, err
	}
	return t, nil
}

// maxQueryURL bounds a query's URL: "In each REST call, the maximum length
// for the combined URI and headers is 16,384 bytes. ... If the URI itself
// exceeds this limit, the request returns a 414 URI Too Long error"
// ("Maximum number of rows returned by SOQL queries over the REST API",
// Salesforce Help article 000386264,
// https://help.salesforce.com/s/articleView?id=000386264). The headers
// this connector sends take well under 1,384 bytes.
const maxQueryURL = 15000

// checkQueryLength refuses a field list whose longest query (both bounds
// of a slice and a limit) would exceed maxQueryURL: every cycle would fail
// with a 414, and only a shorter list can help.
func (c *Connector) checkQueryLength(objectType string, t *target) error {
	bound := time.Unix(0, 0)
	n := len(c.queryURL(t.obj, buildSOQL(t.obj, t.fields, listQuery{from: bound, to: bound, limit: 2000})))
	if n <= maxQueryURL {
		return nil
	}
	which := "its default list (every field the connected user can read)"
	if t.configured {
		which = "its field list"
	}
	return connectors.Errorf(connectors.Config,
		"Salesforce %s: %s has %d fields, a query URL of %d bytes, above Salesforce's limit of 16,384 bytes for a request's URI and headers; choose fewer fields with `syncloop objects set-fields <id> Name,…`",
		objectType, which, len(t.fields), n)
}

// redescribe drops the cached describe of t's SObject after a query with
// its default list failed with INVALID_FIELD (a field hidden since it was
// described) and makes t's list from a new describe.
func (c *Connector) redescribe(ctx context.Context, t *target, objectType string) error {
	c.describes.forget(strings.ToLower(t.obj.name), t.desc)
	d, err := c.describe(ctx, t.obj.name, objectType)
	if err != nil {
		return err
	}
	t.desc, t.fields = d, defaultFields(d, t.obj.cursor)
	return nil
}

var _ connectors.Catalogue = (*Connector)(nil)

// catalogueNoise are suffixes of SObjects left out of ObjectTypes: the
// sharing (…Share, …__Share), field history (…History, …__History), feed
// (…Feed, …__Feed) and Change Data Capture (…ChangeEvent,
// …__ChangeEvent) companions every object may have. They can be synced by
// name all the same.
var catalogueNoise = []string{"share", "history", "feed", "changeevent"}

// ObjectTypes lists the org's object types from Describe Global: first
// the aliases the org has (accounts…, ProviderName the SObject), then
// every other SObject that is queryable and retrieveable, not
// deprecatedAndHidden and not noise (catalogueNoise), by its lower-case
// API name, in Describe Global's order. Incremental is true for the
// aliases (a cycle lists changes only; see the package documentation for
// which find deletions) and, for the others, when the SObject is
// replicateable: its deletions can be fetched (getDeleted). A queryable
// SObject that is not replicateable is still listed by its cursor field,
// but its deletions only show in a full listing.
func (c *Connector) ObjectTypes(ctx context.Context) ([]connectors.ObjectType, error) {
	global, err := c.describeGlobal(ctx)
	if err != nil {
		return nil, err
	}
	var out []connectors.ObjectType
	for _, alias := range objectTypes {
		if e, ok := global.find(sobjects[alias].name); ok && e.Queryable {
			out = append(out, connectors.ObjectType{Name: alias, ProviderName: e.Name, Label: e.Label, Custom: e.Custom, Incremental: true})
		}
	}
	for _, e := range global.sobjects {
		name := strings.ToLower(e.Name)
		if _, alias := aliasOf[name]; alias || !e.Queryable || !e.Retrieveable || e.DeprecatedAndHidden ||
			!objectTypeRE.MatchString(name) || isNoise(name) {
			continue
		}
		ot := connectors.ObjectType{Name: name, Label: e.Label, Custom: e.Custom, Incremental: e.Replicateable}
		if e.Name != name {
			ot.ProviderName = e.Name
		}
		out = append(out, ot)
	}
	return out, nil
}

func isNoise(name string) bool {
	for _, suffix := range catalogueNoise {
		if strings.HasSuffix(name, suffix) && len(name) > len(suffix) {
			return true
		}
	}
	return false
}

// Fields lists the fields of objectType the connected user can read, from
// its describe: Default says the default list reads it, Excluded why not.
// An object type the org does not have is a Config error.
func (c *Connector) Fields(ctx context.Context, objectType string) ([]connectors.Field, error) {
	obj, d, err := c.lookup(ctx, objectType, true)
	if err != nil {
		return nil, err
	}
	out := make([]connectors.Field, 0, len(d.fields))
	for _, f := range d.fields {
		why := excluded(f)
		// Id and the cursor are read whatever the field list (normalizeFields).
		always := strings.EqualFold(f.Name, "Id") || strings.EqualFold(f.Name, obj.cursor)
		out = append(out, connectors.Field{Name: f.Name, Label: f.Label, Type: f.Type, Kind: fieldKind(f.Type), Default: why == "", Excluded: why, Always: always})
	}
	return out, nil
}

// fieldKind maps a Salesforce field type ("Field Types", SOAP API
// Developer Guide,
// https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/field_types.htm)
// to a portable kind.
func fieldKind(typ string) connectors.FieldKind {
	switch typ {
	case "string", "picklist", "multipicklist", "textarea", "phone", "email", "url", "reference", "id",
		"combobox", "encryptedstring", "time":
		return connectors.KindText
	case "double", "currency", "percent", "int", "long":
		return connectors.KindNumber
	case "boolean":
		return connectors.KindBoolean
	case "date":
		return connectors.KindDate
	case "datetime":
		return connectors.KindTimestamp
	}
	return connectors.KindJSON // address, location, base64, anyType and anything new
}
