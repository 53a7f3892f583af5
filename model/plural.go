package model

import "fmt"

// Plural is "1 page", "2 pages": a count and its noun, for messages.
func Plural[N ~int | ~int32 | ~int64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
