package sftest

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// apiError is a Salesforce error response: [{"message":…,"errorCode":…}].
type apiError struct {
	status int
	code   string
	msg    string
}

func malformed(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "MALFORMED_QUERY", msg: fmt.Sprintf(format, args...)}
}

// soqlQuery is a parsed query of the supported subset.
type soqlQuery struct {
	table  *table
	fields []string  // canonical names, in SELECT order
	since  time.Time // WHERE <cursor> >= since; zero if none
	before time.Time // WHERE <cursor> < before; zero if none
	// isDeleted and isArchived are WHERE IsDeleted = … and IsArchived = …
	// conditions; nil if none.
	isDeleted, isArchived *bool
	limit                 int // LIMIT n; 0 if none
}

var (
	identRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	// soqlDateTimeRE is a SOQL dateTime literal: seconds, optional
	// milliseconds, and Z or an offset.
	soqlDateTimeRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:\d{2})$`)
	limitRE        = regexp.MustCompile(`^[1-9][0-9]{0,8}$`)
)

const supported = "sftest supports only SELECT fields FROM SObject [WHERE cond [AND cond]...] ORDER BY <cursor>, Id [LIMIT n], " +
	"where <cursor> is SystemModstamp (LastModifiedDate for ContentNote) and cond is <cursor> >= dateTime, <cursor> < dateTime, " +
	"IsDeleted = true|false or IsArchived = true|false"

// parseSOQL parses q. On error it returns what it parsed so far, for the
// request log.
func (s *Server) parseSOQL(q string) (soqlQuery, *apiError) {
	var out soqlQuery
	toks := tokenize(q)
	pos := 0
	peek := func() string {
		if pos < len(toks) {
			return toks[pos]
		}
		return ""
	}
	next := func() string { tok := peek(); pos++; return tok }
	expect := func(words ...string) *apiError {
		for _, w := range words {
			tok := next()
			if tok == "" {
				return malformed("unexpected end of query, expected %s; %s", strings.ToUpper(w), supported)
			}
			if !strings.EqualFold(tok, w) {
				return malformed("unexpected token: '%s'; %s", tok, supported)
			}
		}
		return nil
	}

	if err := expect("SELECT"); err != nil {
		return out, err
	}
	var names []string
	for {
		tok := next()
		switch {
		case tok == "":
			return out, malformed("unexpected end of query in the field list")
		case !identRE.MatchString(tok):
			if strings.Contains(tok, ".") || strings.Contains(tok, "(") {
				return out, malformed("unexpected token: '%s'; relationship fields, subqueries and functions are not supported by sftest", tok)
			}
			return out, malformed("unexpected token: '%s'", tok)
		}
		names = append(names, tok)
		if !strings.EqualFold(peek(), ",") {
			break
		}
		pos++
	}
	if err := expect("FROM"); err != nil {
		return out, err
	}
	from := next()
	if from == "" {
		return out, malformed("unexpected end of query, expected an SObject name")
	}
	out.table = s.byName[lower(from)]
	if out.table == nil {
		return out, &apiError{status: http.StatusBadRequest, code: "INVALID_TYPE",
			msg: fmt.Sprintf("sObject type '%s' is not supported. If you are attempting to use a custom object, be sure to append "+
				"the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.", from)}
	}
	cursor := out.table.spec.cursor
	seen := map[string]bool{}
	for _, name := range names {
		canonical := out.table.field(name)
		if canonical == "" {
			return out, invalidField(name, out.table)
		}
		if seen[canonical] {
			return out, malformed("duplicate field selected: %s", canonical)
		}
		seen[canonical] = true
		out.fields = append(out.fields, canonical)
	}

	if strings.EqualFold(peek(), "WHERE") {
		pos++
		for {
			if err := out.condition(next(), next(), next()); err != nil {
				return out, err
			}
			if !strings.EqualFold(peek(), "AND") {
				break
			}
			pos++
		}
	}

	if err := expect("ORDER", "BY"); err != nil {
		return out, err
	}
	for i, want := range []string{cursor, fieldID} {
		if i > 0 {
			if err := expect(","); err != nil {
				return out, err
			}
		}
		tok := next()
		if tok == "" {
			return out, malformed("unexpected end of query in ORDER BY; %s", supported)
		}
		if out.table.field(tok) == "" && identRE.MatchString(tok) {
			return out, invalidField(tok, out.table)
		}
		if out.table.field(tok) != want {
			return out, malformed("unexpected token: '%s'; %s", tok, supported)
		}
		if strings.EqualFold(peek(), "ASC") {
			pos++
		}
	}
	if strings.EqualFold(peek(), "LIMIT") {
		pos++
		tok := next()
		if !limitRE.MatchString(tok) {
			return out, malformed("unexpected token: '%s'; LIMIT takes a positive integer", tok)
		}
		out.limit, _ = strconv.Atoi(tok)
	}
	if tok := peek(); tok != "" {
		return out, malformed("unexpected token: '%s'; %s", tok, supported)
	}
	return out, nil
}

// condition adds one WHERE condition.
func (q *soqlQuery) condition(field, op, lit string) *apiError {
	t := q.table
	canonical := t.field(field)
	switch {
	case field == "" || op == "" || lit == "":
		return malformed("unexpected end of query in the WHERE clause")
	case identRE.MatchString(field) && canonical == "":
		return invalidField(field, t)
	case canonical == t.spec.cursor && (op == ">=" || op == "<"):
		if !soqlDateTimeRE.MatchString(lit) {
			return malformed("value of filter criterion for field '%s' must be of type dateTime and should not be enclosed in quotes: %s", canonical, lit)
		}
		at, err := time.Parse(time.RFC3339Nano, lit)
		if err != nil {
			return malformed("invalid dateTime literal %s", lit)
		}
		dst := &q.since
		if op == "<" {
			dst = &q.before
		}
		if !dst.IsZero() {
			return malformed("sftest supports one '%s %s' condition per query", canonical, op)
		}
		*dst = at.UTC()
		return nil
	case (canonical == fieldIsDeleted || canonical == fieldIsArchived) && op == "=":
		var b bool
		switch {
		case strings.EqualFold(lit, "true"):
			b = true
		case strings.EqualFold(lit, "false"):
		default:
			return malformed("value of filter criterion for field '%s' must be of type boolean and should not be enclosed in quotes: %s", canonical, lit)
		}
		dst := &q.isDeleted
		if canonical == fieldIsArchived {
			dst = &q.isArchived
		}
		if *dst != nil {
			return malformed("sftest supports one '%s =' condition per query", canonical)
		}
		*dst = &b
		return nil
	}
	return malformed("unexpected condition '%s %s %s'; %s", field, op, lit, supported)
}

func invalidField(name string, t *table) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "INVALID_FIELD",
		msg: fmt.Sprintf("No such column '%s' on entity '%s'. If you are attempting to use a custom field, be sure to append the '__c' "+
			"after the custom field name. Please reference your WSDL or the describe call for the appropriate names.", name, t.spec.name)}
}

// field returns the canonical name of a field the running user can see
// (SOQL names are case-insensitive), or "". A field hidden by field-level
// security is as unknown as a missing one (see HideField).
func (t *table) field(name string) string {
	f := t.anyField(name)
	if t.hidden[f] {
		return ""
	}
	return f
}

// anyField is field, hidden fields included.
func (t *table) anyField(name string) string {
	for _, f := range t.spec.fields {
		if strings.EqualFold(f, name) {
			return f
		}
	}
	return ""
}

// tokenize splits a query into words, commas, parentheses, quoted strings
// and comparison operators.
func tokenize(q string) []string {
	var toks []string
	isOp := func(c byte) bool { return c == '<' || c == '>' || c == '=' || c == '!' }
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == ',' || c == '(' || c == ')':
			toks = append(toks, string(c))
			i++
		case c == '\'':
			j := i + 1
			for j < len(q) && q[j] != '\'' {
				if q[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(q))
			toks = append(toks, q[i:j])
			i = j
		case isOp(c):
			j := i
			for j < len(q) && isOp(q[j]) {
				j++
			}
			toks = append(toks, q[i:j])
			i = j
		default:
			j := i
			for j < len(q) && !strings.ContainsRune(" \t\r\n,()'<>=!", rune(q[j])) {
				j++
			}
			toks = append(toks, q[i:j])
			i = j
		}
	}
	return toks
}

func lower(s string) string { return strings.ToLower(s) }
