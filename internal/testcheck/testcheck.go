// Package testcheck holds the comparisons the end-to-end, dev-stack and
// fault-injection tests share when they check records against a provider.
package testcheck

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
)

// JSONEqual reports whether a and b are the same JSON value (key order
// and spacing aside). Invalid JSON equals nothing.
func JSONEqual(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// Sample sorts ids and keeps the first five, plus how many more there
// were, for a failure message.
func Sample(ids []string) []string {
	slices.Sort(ids)
	if len(ids) > 5 {
		return append(ids[:5:5], fmt.Sprintf("… %d more", len(ids)-5))
	}
	return ids
}
