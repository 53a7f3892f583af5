package model

import (
	"fmt"
	"unicode/utf8"
)

// Plural is "1 page", "2 pages": a count and its noun, for messages.
func Plural[N ~int | ~int32 | ~int64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Clip shortens s to at most n bytes, ending in "…" when it was cut, and
// never inside a UTF-8 sequence: for messages put in errors, logs and
// histories.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n - len("…")
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
