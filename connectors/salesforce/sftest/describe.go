package sftest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// This file models the describe resources and the schema changes a test
// can make: field-level security hiding a field, custom fields and custom
// objects.
//
//   - "Describe Global", REST API Developer Guide
//     (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_describeGlobal.htm):
//     GET /services/data/vXX.X/sobjects answers {"encoding", "maxBatchSize",
//     "sobjects": [...]}, one DescribeGlobalSObjectResult per sObject the
//     running user can see.
//   - "sObject Describe", REST API Developer Guide
//     (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_describe.htm):
//     GET /services/data/vXX.X/sobjects/SObject/describe answers the
//     DescribeSObjectResult, its "fields" the Field entries of the SOAP API's
//     "DescribeSObjectResult" and "Field"
//     (https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_describesobjects_describesobjectresult.htm).
//     The fake sends the properties a client decides on (name, label, type,
//     soapType, custom, nillable, compoundFieldName, referenceTo,
//     filterable, sortable…) and leaves out layout ones (childRelationships,
//     recordTypeInfos, supportedScopes…): a client must ignore what it does
//     not know anyway.

// fieldTypes are the Salesforce types of the standard fields of the fake's
// sObjects, as the Object Reference and the Salesforce Field Reference
// give them for Account, Contact, Opportunity, Task, Event, Note,
// ContentNote and User (one name has one type across them).
var fieldTypes = map[string]string{
	"Id": "id", "Name": "string", "OwnerId": "reference", "CreatedDate": "datetime", "LastModifiedDate": "datetime",
	"SystemModstamp": "datetime", "IsDeleted": "boolean",
	"Industry": "picklist", "AnnualRevenue": "currency", "NumberOfEmployees": "int", "Website": "url",
	"BillingStreet": "textarea", "BillingCity": "string", "BillingState": "string", "BillingPostalCode": "string",
	"BillingCountry": "string", "BillingLatitude": "double", "BillingLongitude": "double",
	"BillingGeocodeAccuracy": "picklist", "BillingAddress": "address",
	"FirstName": "string", "LastName": "string", "Email": "email", "Phone": "phone", "Title": "string", "AccountId": "reference",
	"Amount": "currency", "StageName": "picklist", "CloseDate": "date", "Probability": "percent", "IsClosed": "boolean", "IsWon": "boolean",
	"Subject": "combobox", "Status": "picklist", "Priority": "picklist", "ActivityDate": "date", "WhoId": "reference",
	"WhatId": "reference", "IsArchived": "boolean",
	"Location": "string", "IsAllDayEvent": "boolean", "ActivityDateTime": "datetime", "StartDateTime": "datetime",
	"EndDateTime": "datetime", "DurationInMinutes": "int",
	"Body": "textarea", "ParentId": "reference", "IsPrivate": "boolean",
	"TextPreview": "string", "FileType": "string", "FileExtension": "string", "ContentSize": "int", "IsReadOnly": "boolean",
	"SharingPrivacy": "picklist", "LatestPublishedVersionId": "reference", "ContentModifiedDate": "datetime", "Content": "base64",
	"Username": "string", "IsActive": "boolean",
}

// referenceTo is the referenceTo of the reference fields ("Field",
// SOAP API: "For fields that refer to other objects, this array
// indicates the object types of the referenced objects").
var referenceTo = map[string][]string{
	"OwnerId": {"User"}, "AccountId": {"Account"}, "WhoId": {"Contact", "Lead"}, "WhatId": {"Account", "Opportunity"},
	"ParentId": {"Account", "Contact", "Opportunity"}, "LatestPublishedVersionId": {"ContentVersion"},
}

// soapTypes maps a field type to its soapType ("Field", SOAP API: "The
// SOAP type of the field"; "Field Types", SOAP API Developer Guide).
var soapTypes = map[string]string{
	"id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "currency": "xsd:double", "double": "xsd:double",
	"percent": "xsd:double", "int": "xsd:int", "date": "xsd:date", "datetime": "xsd:dateTime", "base64": "xsd:base64Binary",
	"address": "urn:address", "location": "urn:location",
}

// CustomFieldTypes are the types AddCustomField takes.
var customFieldTypes = []string{"double", "string", "boolean", "date", "datetime", "picklist"}

// noiseSObjects are sObjects every org's describeGlobal lists beside the
// ones with data: sharing, history, feed and change event objects, a
// deprecated object and one that cannot be queried, so that a client's
// catalogue filter has something to filter. The fake serves no data for
// them: describing one answers 404 and a query INVALID_TYPE, as for an
// unknown sObject (a simplification; in Salesforce they are queryable
// unless their flags say otherwise). Their flags are the fake's choice:
// the docs do not list them per object.
var noiseSObjects = []globalSObject{
	{Name: "AccountChangeEvent", Label: "Account Change Event", KeyPrefix: "", Retrieveable: false, Queryable: false},
	{Name: "AccountFeed", Label: "Account Feed", KeyPrefix: "0D5", Retrieveable: true, Queryable: true},
	{Name: "AccountHistory", Label: "Account History", KeyPrefix: "017", Retrieveable: true, Queryable: true},
	{Name: "AccountShare", Label: "Account Share", KeyPrefix: "00r", Retrieveable: true, Queryable: true},
	{Name: "AggregateResult", Label: "Aggregate Result", KeyPrefix: "", Retrieveable: false, Queryable: false},
	{Name: "Scontrol", Label: "Custom S-Control", KeyPrefix: "01N", Retrieveable: true, Queryable: true, DeprecatedAndHidden: true},
}

// globalSObject is one DescribeGlobalSObjectResult ("Describe Global").
type globalSObject struct {
	Activateable        bool              `json:"activateable"`
	Createable          bool              `json:"createable"`
	Custom              bool              `json:"custom"`
	CustomSetting       bool              `json:"customSetting"`
	Deletable           bool              `json:"deletable"`
	DeprecatedAndHidden bool              `json:"deprecatedAndHidden"`
	FeedEnabled         bool              `json:"feedEnabled"`
	KeyPrefix           string            `json:"keyPrefix"`
	Label               string            `json:"label"`
	LabelPlural         string            `json:"labelPlural"`
	Layoutable          bool              `json:"layoutable"`
	Mergeable           bool              `json:"mergeable"`
	MruEnabled          bool              `json:"mruEnabled"`
	Name                string            `json:"name"`
	Queryable           bool              `json:"queryable"`
	Replicateable       bool              `json:"replicateable"`
	Retrieveable        bool              `json:"retrieveable"`
	Searchable          bool              `json:"searchable"`
	Triggerable         bool              `json:"triggerable"`
	Undeletable         bool              `json:"undeletable"`
	Updateable          bool              `json:"updateable"`
	URLs                map[string]string `json:"urls"`
}

// describeField is one Field of a describe ("Field", SOAP API).
type describeField struct {
	Aggregatable      bool     `json:"aggregatable"`
	Calculated        bool     `json:"calculated"`
	CompoundFieldName *string  `json:"compoundFieldName"`
	Createable        bool     `json:"createable"`
	Custom            bool     `json:"custom"`
	DefaultedOnCreate bool     `json:"defaultedOnCreate"`
	Filterable        bool     `json:"filterable"`
	Groupable         bool     `json:"groupable"`
	IDLookup          bool     `json:"idLookup"`
	Label             string   `json:"label"`
	Length            int      `json:"length"`
	Name              string   `json:"name"`
	NameField         bool     `json:"nameField"`
	Nillable          bool     `json:"nillable"`
	PicklistValues    []any    `json:"picklistValues"`
	ReferenceTo       []string `json:"referenceTo"`
	RelationshipName  *string  `json:"relationshipName"`
	SoapType          string   `json:"soapType"`
	Sortable          bool     `json:"sortable"`
	Type              string   `json:"type"`
	Unique            bool     `json:"unique"`
	Updateable        bool     `json:"updateable"`
}

// global returns the table's DescribeGlobalSObjectResult. The flags are
// those Salesforce reports for such objects as far as the Object
// Reference's "Supported Calls" tell: replicateable means getUpdated() and
// getDeleted() are supported ("DescribeGlobalSObjectResult", SOAP API:
// "Indicates whether this object can be replicated via the API calls
// getUpdated() and getDeleted()").
func (t *table) global(apiVersion string) globalSObject {
	spec := t.spec
	base := "/services/data/" + apiVersion + "/sobjects/" + spec.name
	label, plural := spec.label, spec.labelPlural
	if label == "" {
		label = spec.name
	}
	if plural == "" {
		plural = label + "s"
	}
	return globalSObject{
		Createable: true, Custom: spec.custom, Deletable: spec.deletable, KeyPrefix: spec.prefix,
		Label: label, LabelPlural: plural, Layoutable: true, Name: spec.name, Queryable: true,
		Replicateable: spec.getDeleted, Retrieveable: true, Searchable: true, Triggerable: true,
		Undeletable: spec.deletable, Updateable: true, FeedEnabled: !spec.custom, MruEnabled: true,
		URLs: map[string]string{"sobject": base, "describe": base + "/describe", "rowTemplate": base + "/{ID}"},
	}
}

// describeFields returns the fields the running user can see, in describe
// order. "Field-level security ... restricts users' access to view and
// edit specific fields"; the describe result only has the fields the
// user can access ("Field", SOAP API, on describeSObjects(): "the fields
// ... that are visible to the logged-in user") — a hidden field is left
// out.
func (t *table) describeFields() []describeField {
	var out []describeField
	for _, name := range t.spec.fields {
		if t.hidden[name] {
			continue
		}
		typ := t.spec.fieldType(name)
		f := describeField{
			Name: name, Label: label(name), Type: typ, SoapType: soapTypes[typ], Custom: t.spec.customTypes[name] != "",
			Nillable: name != fieldID && typ != "boolean" && !isSystem(name), Filterable: typ != "textarea" && typ != "base64" && typ != "address",
			Sortable:   typ != "textarea" && typ != "base64" && typ != "address" && typ != "multipicklist",
			Updateable: !isSystem(name) && typ != "address", Createable: !isSystem(name) && typ != "address",
			Aggregatable: typ != "textarea" && typ != "base64" && typ != "address", Groupable: typ != "textarea" && typ != "base64" && typ != "double" && typ != "currency" && typ != "address",
			IDLookup: name == fieldID, NameField: name == "Name" || (t.spec.name == "ContentNote" && name == "Title"),
			Unique:         name == "Username",
			ReferenceTo:    []string{},
			PicklistValues: []any{},
		}
		if f.SoapType == "" {
			f.SoapType = "xsd:string"
		}
		switch typ {
		case "string", "textarea", "email", "url", "phone", "picklist", "combobox":
			f.Length = 255
			if typ == "textarea" {
				f.Length = 32000
			}
		case "id", "reference":
			f.Length = 18
		}
		if c := t.spec.compoundOf(name); c != "" {
			f.CompoundFieldName = &c
		}
		if typ == "reference" {
			f.ReferenceTo = referenceTo[name]
			if f.ReferenceTo == nil {
				f.ReferenceTo = []string{"User"}
			}
			rel := strings.TrimSuffix(name, "Id")
			f.RelationshipName = &rel
		}
		out = append(out, f)
	}
	return out
}

func isSystem(name string) bool {
	switch name {
	case fieldID, fieldCreatedDate, fieldLastModifiedDate, fieldSystemModstamp, fieldIsDeleted:
		return true
	}
	return false
}

var wordRE = regexp.MustCompile(`[A-Z][a-z0-9]*|[a-z0-9]+`)

// label makes a field label from its API name: "AnnualRevenue" →
// "Annual Revenue", "Score__c" → "Score".
func label(name string) string {
	return strings.Join(wordRE.FindAllString(strings.TrimSuffix(name, "__c"), -1), " ")
}

// defaultFields is what the connector selects by default: every field the
// user can see but compound (address) and base64 ones, in describe order.
func (t *table) defaultFields() []string {
	var out []string
	for _, name := range t.spec.fields {
		switch typ := t.spec.fieldType(name); {
		case t.hidden[name], typ == "address", typ == "location", typ == "base64":
			continue
		}
		out = append(out, name)
	}
	return out
}

// newRecordFields returns the fields of a new record: the object's
// generated ones and a value for each custom field.
func (t *table) newRecordFields(g *generator) map[string]any {
	f := t.spec.newFields(g)
	for _, name := range t.spec.fields {
		if typ := t.spec.customTypes[name]; typ != "" {
			if _, ok := f[name]; !ok {
				f[name] = customValue(g, typ)
			}
		}
	}
	return f
}

// customValue is a generated value of a custom field of type typ.
func customValue(g *generator, typ string) any {
	switch typ {
	case "double":
		return float64(g.Rng.IntN(100_000)) / 100
	case "boolean":
		return g.Rng.IntN(2) == 0
	case "date":
		return g.Date(-365, 365)
	case "datetime":
		return formatSFTime(g.Base.Add(-time.Duration(g.Rng.IntN(90*24*60)) * time.Minute))
	case "picklist":
		return g.Pick([]string{"Bronze", "Silver", "Gold", "Platinum"})
	}
	return g.Pick([]string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot"}) + fmt.Sprintf("-%d", g.Rng.IntN(1000))
}

type describeGlobalResponse struct {
	Encoding     string          `json:"encoding"`
	MaxBatchSize int             `json:"maxBatchSize"`
	SObjects     []globalSObject `json:"sobjects"`
}

// serveDescribeGlobalLocked answers Describe Global: the standard objects
// in seeding order, the noise objects, then the custom objects in the
// order they were added. The docs do not promise an order.
func (s *Server) serveDescribeGlobalLocked(out *responder, p parsed) {
	resp := describeGlobalResponse{Encoding: "UTF-8", MaxBatchSize: 200}
	for _, name := range objectTypes {
		resp.SObjects = append(resp.SObjects, s.tables[name].global(p.apiVersion))
	}
	for _, n := range noiseSObjects {
		n.LabelPlural = n.Label + "s"
		n.URLs = map[string]string{"sobject": "/services/data/" + p.apiVersion + "/sobjects/" + n.Name}
		resp.SObjects = append(resp.SObjects, n)
	}
	for _, name := range s.customObjects {
		resp.SObjects = append(resp.SObjects, s.tables[name].global(p.apiVersion))
	}
	body, _ := json.Marshal(resp) // plain values: cannot fail
	out.send(http.StatusOK, "application/json;charset=UTF-8", body)
}

// serveDescribeLocked answers sObject Describe; an unknown sObject is 404
// NOT_FOUND "The requested resource does not exist" ("Status Codes and
// Error Responses", REST API Developer Guide,
// https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm:
// 404 "The requested resource couldn't be found").
func (s *Server) serveDescribeLocked(out *responder, p parsed) {
	if p.table == nil {
		out.error(&apiError{status: http.StatusNotFound, code: "NOT_FOUND", msg: "The requested resource does not exist"})
		return
	}
	g := p.table.global(p.apiVersion)
	body, _ := json.Marshal(struct {
		globalSObject
		Fields             []describeField `json:"fields"`
		ChildRelationships []any           `json:"childRelationships"`
		RecordTypeInfos    []any           `json:"recordTypeInfos"`
	}{g, p.table.describeFields(), []any{}, []any{}})
	out.send(http.StatusOK, "application/json;charset=UTF-8", body)
}

// HideField makes field-level security hide field of objectType (syncloop's
// name: "accounts", or a custom object's lower-case name) from the running
// user: describe leaves it out, a SOQL query naming it answers 400
// INVALID_FIELD ("No such column ..."), and Snapshot leaves it out. The
// docs read do not quote the error of a query naming a field hidden by
// field-level security; Salesforce is known to answer as for a field that
// does not exist, and so does the fake. It panics for an unknown object
// type or field, a misuse of the fake.
func (s *Server) HideField(objectType, field string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[objectType]
	if t == nil {
		panic(fmt.Sprintf("sftest: HideField: unknown object type %q", objectType))
	}
	canonical := t.anyField(field)
	if canonical == "" {
		panic(fmt.Sprintf("sftest: HideField: %s has no field %q", t.spec.name, field))
	}
	t.hidden[canonical] = true
}

var customFieldRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,36}__c$`)

// AddCustomField adds a custom field (e.g. "Score__c") of fieldType
// ("double", "string", "boolean", "date", "datetime" or "picklist") to
// objectType. Every existing record gets a generated value and so does
// every new one; it is in describe with custom true, in queries and in
// Snapshot. Existing records keep their stamps: the docs read do not say
// whether adding a field changes SystemModstamp, and the fake does not
// stamp records no user edited, so an incremental listing does not see the
// new values until a record changes (a full one does). It panics for an
// unknown object type, a name that is not a custom field name (…__c), one
// the object already has, or another type, a misuse of the fake.
func (s *Server) AddCustomField(objectType, field, fieldType string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[objectType]
	switch {
	case t == nil:
		panic(fmt.Sprintf("sftest: AddCustomField: unknown object type %q", objectType))
	case !customFieldRE.MatchString(field):
		panic(fmt.Sprintf("sftest: AddCustomField: %q is not a custom field name (Name__c)", field))
	case t.anyField(field) != "":
		panic(fmt.Sprintf("sftest: AddCustomField: %s already has a field %q", t.spec.name, field))
	case !slices.Contains(customFieldTypes, fieldType):
		panic(fmt.Sprintf("sftest: AddCustomField: unsupported type %q (want one of %s)", fieldType, strings.Join(customFieldTypes, ", ")))
	}
	t.spec.fields = append(t.spec.fields, field)
	t.spec.customTypes[field] = fieldType
	g := s.generator()
	for _, rec := range t.byID {
		f := make(map[string]any, len(rec.cur.fields)+1)
		for k, v := range rec.cur.fields {
			f[k] = v
		}
		f[field] = customValue(g, fieldType)
		rec.cur.fields = f
	}
}

var customObjectRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,36}__c$`)

// AddCustomObject creates a custom object (e.g. "Widget__c") with Id (a
// key prefix of its own, "a00" onwards), Name, OwnerId, CreatedDate,
// LastModifiedDate, SystemModstamp, IsDeleted and the custom fields
// Quantity__c (double) and Tier__c (picklist), seeds n records, and
// returns syncloop's object type name for it: the API name in lower case
// ("widget__c"). It is custom, queryable and replicateable in Describe
// Global, and Add, Change, Delete, Snapshot, Deleted, HideField and
// AddCustomField work on it by that name; RunChurn leaves it alone. It
// panics for a name that is not a custom object name or one already
// taken, a misuse of the fake.
func (s *Server) AddCustomObject(apiName string, n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	objectType := lower(apiName)
	switch {
	case !customObjectRE.MatchString(apiName):
		panic(fmt.Sprintf("sftest: AddCustomObject: %q is not a custom object name (Name__c)", apiName))
	case s.byName[objectType] != nil || s.tables[objectType] != nil:
		panic(fmt.Sprintf("sftest: AddCustomObject: %q already exists", apiName))
	case len(s.customObjects) >= 100:
		panic("sftest: AddCustomObject: too many custom objects")
	}
	spec := &sobjectSpec{
		objectType: objectType, name: apiName, prefix: fmt.Sprintf("a%02d", len(s.customObjects)),
		label: label(apiName), custom: true, deletable: true, getDeleted: true, cursor: fieldSystemModstamp,
		fields: []string{"Id", "Name", "OwnerId", "CreatedDate", "LastModifiedDate", "SystemModstamp", "IsDeleted",
			"Quantity__c", "Tier__c"},
		customTypes: map[string]string{"Quantity__c": "double", "Tier__c": "picklist"},
		newFields: func(g *generator) map[string]any {
			return map[string]any{"Name": g.Company() + " " + g.Pick([]string{"gear", "valve", "sprocket", "panel"}), "OwnerId": g.ref("users")}
		},
		mutate: func(g *generator, f map[string]any) {
			if g.Rng.IntN(2) == 0 {
				f["Quantity__c"] = customValue(g, "double")
			} else {
				f["Tier__c"] = customValue(g, "picklist")
			}
		},
	}
	t := newTable(spec)
	s.tables[objectType] = t
	s.byName[objectType] = t
	s.customObjects = append(s.customObjects, objectType)
	s.addLocked(t, n)
	return objectType
}
