package jsonsplit

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func raws(elems []Element) []string {
	out := make([]string, len(elems))
	for i, e := range elems {
		out[i] = string(e.Raw)
	}
	return out
}

func TestArray(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in     string
		want   []string
		depths []int
	}{
		{`[]`, []string{}, nil},
		{" \t\r\n[ \n ] \n", []string{}, nil},
		{`[1,"a",null,true,false,-0.5e+3]`, []string{`1`, `"a"`, `null`, `true`, `false`, `-0.5e+3`}, []int{0, 0, 0, 0, 0, 0}},
		{` [ {"a" : [1, [2]]} ,  [[]], {} ] `, []string{`{"a" : [1, [2]]}`, `[[]]`, `{}`}, []int{3, 2, 1}},
		{`["]",  "[{\"", "\\", "\\\"]", "\u005d"]`, []string{`"]"`, `"[{\""`, `"\\"`, `"\\\"]"`, `"\u005d"`}, nil},
		{`[{"k]":"v}"},{"\"}":["{"]}]`, []string{`{"k]":"v}"}`, `{"\"}":["{"]}`}, []int{1, 2}},
	} {
		elems, err := Array([]byte(tc.in))
		if err != nil {
			t.Errorf("Array(%q): %v", tc.in, err)
			continue
		}
		if got := raws(elems); strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("Array(%q) = %q, want %q", tc.in, got, tc.want)
		}
		for i, d := range tc.depths {
			if elems[i].Depth != d {
				t.Errorf("Array(%q)[%d].Depth = %d, want %d", tc.in, i, elems[i].Depth, d)
			}
		}
	}
	for in, want := range map[string]error{
		``:                 ErrSyntax,
		`   `:              ErrSyntax,
		`[`:                ErrSyntax,
		`[1,]`:             ErrSyntax,
		`[,1]`:             ErrSyntax,
		`[1 2]`:            ErrSyntax,
		`[1]]`:             ErrSyntax,
		`[1] x`:            ErrSyntax,
		`[1][2]`:           ErrSyntax,
		`["a]`:             ErrSyntax,
		`["\"]`:            ErrSyntax,
		`["\x"]`:           ErrSyntax,
		`["\u12"]`:         ErrSyntax,
		"[\"a\tb\"]":       ErrSyntax,
		`[{"a"}]`:          ErrSyntax,
		`[{"a":1,}]`:       ErrSyntax,
		`[{1:2}]`:          ErrSyntax,
		`[[1}]`:            ErrSyntax,
		`[{"a":1]}`:        ErrSyntax,
		`[01]`:             ErrSyntax,
		`[1.]`:             ErrSyntax,
		`[.5]`:             ErrSyntax,
		`[1e]`:             ErrSyntax,
		`[-]`:              ErrSyntax,
		`[+1]`:             ErrSyntax,
		`[tru]`:            ErrSyntax,
		`[nul`:             ErrSyntax,
		"\ufeff[]":         ErrSyntax,
		`{"a":[]}`:         ErrNotArray,
		`"[]"`:             ErrNotArray,
		`null`:             ErrNotArray,
		` 5 `:              ErrNotArray,
		`{"a":[] `:         ErrSyntax,
		`{"records":[1,2]`: ErrSyntax,
	} {
		if elems, err := Array([]byte(in)); !errors.Is(err, want) {
			t.Errorf("Array(%q) = %q, %v; want %v", in, raws(elems), err, want)
		}
	}
}

func TestObject(t *testing.T) {
	t.Parallel()
	members, err := Object([]byte(` {"a" : 1, "b\"}":{"c":[1,{"d":"}"}]} , "a":"x\\" ,"\u0041":[]} `))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range members {
		got = append(got, m.Key+"="+string(m.Value))
	}
	want := []string{`a=1`, `b"}={"c":[1,{"d":"}"}]}`, `a="x\\"`, `A=[]`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("Object = %q, want %q", got, want)
	}
	if members, err := Object([]byte(`{}`)); err != nil || len(members) != 0 {
		t.Fatalf("Object({}) = %v, %v", members, err)
	}
	for in, want := range map[string]error{
		``:             ErrSyntax,
		`{`:            ErrSyntax,
		`{"a"`:         ErrSyntax,
		`{"a":`:        ErrSyntax,
		`{"a":1`:       ErrSyntax,
		`{"a":1,`:      ErrSyntax,
		`{"a":1,}`:     ErrSyntax,
		`{"a" 1}`:      ErrSyntax,
		`{a:1}`:        ErrSyntax,
		`{"a":1}}`:     ErrSyntax,
		`{"a":1} {}`:   ErrSyntax,
		`{"a":[1}`:     ErrSyntax,
		"\ufeff{}":     ErrSyntax,
		`<html>`:       ErrSyntax,
		`[]`:           ErrNotObject,
		`null`:         ErrNotObject,
		`"{}"`:         ErrNotObject,
		`[{"a":1}]`:    ErrNotObject,
		`[{"a":1}`:     ErrSyntax,
		`{"a":"\u00"}`: ErrSyntax,
	} {
		if _, err := Object([]byte(in)); !errors.Is(err, want) {
			t.Errorf("Object(%q): %v, want %v", in, err, want)
		}
	}
}

// nested is a value nested depth levels deep: [[[…{"id":"deep"}…]]].
func nested(depth int) string {
	return strings.Repeat("[", depth-1) + `{"id":"deep"}` + strings.Repeat("]", depth-1)
}

func TestDeep(t *testing.T) {
	t.Parallel()
	deep := nested(MaxDepth + 1)
	page := `{"records":[{"id":"a"},` + deep + `,{"id":"b"}],"next":""}`
	if json.Valid([]byte(page)) {
		t.Fatal("encoding/json accepts the deep page: this package is not needed")
	}
	members, err := Object([]byte(page))
	if err != nil || len(members) != 2 || members[0].Key != "records" {
		t.Fatalf("Object: %d members, %v", len(members), err)
	}
	elems, err := Array(members[0].Value)
	if err != nil || len(elems) != 3 {
		t.Fatalf("Array: %d elements, %v", len(elems), err)
	}
	if string(elems[1].Raw) != deep || elems[1].Depth != MaxDepth+1 || elems[0].Depth != 1 {
		t.Fatalf("element depths %d %d %d", elems[0].Depth, elems[1].Depth, elems[2].Depth)
	}
	if _, bad := Undecodable(elems[0]); bad {
		t.Fatal("a shallow element is undecodable")
	}
	data, bad := Undecodable(elems[1])
	if !bad || json.Valid(data) || !IsUndecodable(data) || len(data) > 300 ||
		!strings.Contains(string(data), "nested 10001 levels deep") || !strings.Contains(string(data), "it begins [[[[") {
		t.Fatalf("Undecodable(deep) = %q, %v", data, bad)
	}
	// Exactly the limit decodes.
	var v any
	if limit := nested(MaxDepth); json.Unmarshal([]byte(limit), &v) != nil {
		t.Fatal("encoding/json refuses MaxDepth")
	} else if elems, err := Array([]byte("[" + limit + "]")); err != nil {
		t.Fatal(err)
	} else if _, bad := Undecodable(elems[0]); bad {
		t.Fatal("an element at MaxDepth is undecodable")
	}
	// A million levels cost memory, not stack.
	huge := strings.Repeat("[", 1_000_000) + strings.Repeat("]", 1_000_000)
	if !Valid([]byte(huge)) || Valid([]byte(huge[:len(huge)-1])) {
		t.Fatal("a million levels")
	}
	// Truncated inside the deep record: still a syntax error.
	if _, err := Object([]byte(page[:len(page)/2])); !errors.Is(err, ErrSyntax) {
		t.Fatalf("truncated deep page: %v", err)
	}
}

// TestTruncated cuts a small page at every byte: no cut is ever a
// complete object or a complete array, nor panics.
func TestTruncated(t *testing.T) {
	t.Parallel()
	page := `{"records":[{"id":"a\"]}","n":[1,2.5e-3,{"x":null}]},{"id":"b","t":true,"f":false},[],{}],"next":"tok\\"}`
	if !json.Valid([]byte(page)) {
		t.Fatal("test page is not JSON")
	}
	for n := range len(page) {
		cut := []byte(page[:n])
		if Valid(cut) {
			t.Errorf("Valid(page[:%d]) = true", n)
		}
		if members, err := Object(cut); !errors.Is(err, ErrSyntax) {
			t.Errorf("Object(page[:%d]) = %d members, %v", n, len(members), err)
		}
		// The records array cut anywhere is not an array either.
		start, stop := strings.Index(page, "["), strings.Index(page, `],"next"`)+1
		if n > start && n < stop {
			if elems, err := Array(cut[start:]); !errors.Is(err, ErrSyntax) {
				t.Errorf("Array(records[:%d]) = %q, %v", n-start, raws(elems), err)
			}
		}
	}
}

// FuzzSplit checks the splitter against encoding/json: the same inputs
// valid, the same members and elements.
func FuzzSplit(f *testing.F) {
	for _, seed := range []string{
		`{"records":[{"id":"a"},{"id":"b","x":[1,{"y":"]"}]}],"next":"t"}`,
		`{"records":[`,
		`[1,"a\"",null,true,false,-0.5e+3,{},[]]`,
		` {"a":1,"a":2} `,
		`{"a":"\u00e9\ud800"}`,
		"{\"a\":\"\xff\"}",
		`[01]`, `[1.]`, `"x`, `nul`, ``, `{}x`,
		nested(50),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		valid := Valid(b)
		if std := json.Valid(b); valid != std {
			// Only depth may tell them apart.
			i := skipSpace(b, 0)
			if _, depth, err := scanValue(b, i); std || err != nil || depth <= MaxDepth {
				t.Fatalf("Valid(%q) = %v, json.Valid = %v", b, valid, std)
			}
			return
		}
		members, oerr := Object(b)
		var m map[string]json.RawMessage
		isObject := json.Unmarshal(b, &m) == nil && m != nil
		switch {
		case isObject != (oerr == nil):
			t.Fatalf("Object(%q): %v; encoding/json object: %v", b, oerr, isObject)
		case !valid && !errors.Is(oerr, ErrSyntax), valid && oerr != nil && !errors.Is(oerr, ErrNotObject):
			t.Fatalf("Object(%q): %v, valid %v", b, oerr, valid)
		case isObject:
			last := map[string][]byte{}
			for _, mem := range members {
				last[mem.Key] = mem.Value
			}
			if len(last) != len(m) {
				t.Fatalf("Object(%q): keys %d, encoding/json %d", b, len(last), len(m))
			}
			for k, v := range m {
				if !bytes.Equal(last[k], v) {
					t.Fatalf("Object(%q)[%q] = %q, encoding/json %q", b, k, last[k], v)
				}
			}
		}
		elems, aerr := Array(b)
		var a []json.RawMessage
		isArray := json.Unmarshal(b, &a) == nil && a != nil
		switch {
		case isArray != (aerr == nil):
			t.Fatalf("Array(%q): %v; encoding/json array: %v", b, aerr, isArray)
		case !valid && !errors.Is(aerr, ErrSyntax), valid && aerr != nil && !errors.Is(aerr, ErrNotArray):
			t.Fatalf("Array(%q): %v, valid %v", b, aerr, valid)
		case isArray:
			if len(elems) != len(a) {
				t.Fatalf("Array(%q): %d elements, encoding/json %d", b, len(elems), len(a))
			}
			for i := range a {
				if !bytes.Equal(elems[i].Raw, a[i]) {
					t.Fatalf("Array(%q)[%d] = %q, encoding/json %q", b, i, elems[i].Raw, a[i])
				}
			}
		}
	})
}

// String agrees with json.Unmarshal into a string on every input.
func FuzzString(f *testing.F) {
	for _, s := range []string{`"a"`, `"a\"b"`, `"\u0061"`, `""`, `"`, `1`, `null`, "\"\xff\"", "\"a\tb\"", `"é"`, `"a"b"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := String(raw)
		var want string
		wantOK := json.Unmarshal(raw, &want) == nil
		if ok != wantOK || got != want {
			t.Fatalf("String(%q) = %q, %v; json.Unmarshal: %q, %v", raw, got, ok, want, wantOK)
		}
	})
}
