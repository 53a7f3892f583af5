package testcheck

import (
	"slices"
	"testing"
)

func TestJSONEqual(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{`{"a":1,"b":[1,2]}`, `{ "b": [1, 2], "a": 1 }`, true},
		{`{"a":1}`, `{"a":2}`, false},
		{`{"a":1}`, `{"a":1,"b":null}`, false},
		{`not json`, `not json`, false},
	} {
		if got := JSONEqual([]byte(c.a), []byte(c.b)); got != c.want {
			t.Errorf("JSONEqual(%s, %s) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestSample(t *testing.T) {
	if got := Sample([]string{"c", "a", "b"}); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("Sample of 3 = %v", got)
	}
	got := Sample([]string{"g", "f", "e", "d", "c", "b", "a"})
	if want := []string{"a", "b", "c", "d", "e", "… 2 more"}; !slices.Equal(got, want) {
		t.Errorf("Sample of 7 = %v, want %v", got, want)
	}
}
