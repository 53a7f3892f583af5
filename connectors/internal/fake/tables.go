package fake

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// Each fake keeps its tables in a map by object type that is fixed once
// the server is built, and guards their contents with the server's lock.
// Locked and Mutate are how its Go API reaches a table, so that the
// contract of Change, Add, Delete and Snapshot (nil for an unknown type or
// n <= 0) is kept in one place.

// Locked runs f on objectType's table with mu held and returns what f
// returns: the zero R, without calling f, if there is no such table.
func Locked[T, R any](mu *sync.Mutex, tables map[string]*T, objectType string, f func(t *T) R) R {
	mu.Lock()
	defer mu.Unlock()
	t := tables[objectType]
	if t == nil {
		var zero R
		return zero
	}
	return f(t)
}

// Mutate is Locked for a mutation of n records that returns their ids: nil,
// without calling f, for n <= 0 too.
func Mutate[T any](mu *sync.Mutex, tables map[string]*T, objectType string, n int, f func(t *T, n int) []string) []string {
	if n <= 0 {
		return nil
	}
	return Locked(mu, tables, objectType, func(t *T) []string { return f(t, n) })
}

// RunChurn is a fake's RunChurn: every tick until ctx is done, with mu
// (which guards tables and rng) held, it makes n mutations of one record
// each, over random object types, 60% changes, 20% adds and 20% deletes,
// so that a local stack always has work to sync. change, add and del
// mutate n records of a table. It returns at once if every or n is not
// positive.
func RunChurn[T any](ctx context.Context, every time.Duration, n int, mu *sync.Mutex, rng *rand.Rand,
	tables map[string]*T, objectTypes []string, change, add, del func(t *T, n int) []string) {
	if n <= 0 {
		return
	}
	Every(ctx, every, func() {
		mu.Lock()
		defer mu.Unlock()
		churn(rng, tables, objectTypes, n, change, add, del)
	})
}

func churn[T any](rng *rand.Rand, tables map[string]*T, objectTypes []string, n int, change, add, del func(t *T, n int) []string) {
	for range n {
		t := tables[objectTypes[rng.IntN(len(objectTypes))]]
		switch op := rng.IntN(10); {
		case op < 6:
			change(t, 1)
		case op < 8:
			add(t, 1)
		default:
			del(t, 1)
		}
	}
}

// Slot is a record's place in an Order as of one stamp.
type Slot interface {
	// Current reports whether the record still lists at this slot: it has
	// not been stamped again, or left the listing, since.
	Current() bool
}

// Order is a table's listing order by (stamp, id), for fakes whose stamps
// strictly increase server-wide (see Stamps): a record stamped now sorts
// last, so appending its new slot keeps the order sorted, and a page is a
// binary search plus a short scan. The slot the record had goes stale and
// stays behind until stale slots dominate; then they are dropped, so that
// churn does not grow the order forever.
type Order[S Slot] struct {
	slots []S
	stale int
}

// Slots returns the slots in order, stale ones included (check Current).
// The slice is not to be modified.
func (o *Order[S]) Slots() []S { return o.slots }

// Append adds s at the end. replaced says that s supersedes a slot of the
// same record, which is no longer Current.
func (o *Order[S]) Append(s S, replaced bool) {
	if replaced {
		o.stale++
	}
	o.slots = append(o.slots, s)
	o.compact()
}

// Retire records that a slot is no longer Current, as when its record
// leaves the listing.
func (o *Order[S]) Retire() {
	o.stale++
	o.compact()
}

func (o *Order[S]) compact() {
	if o.stale <= 64 || o.stale <= len(o.slots)/2 {
		return
	}
	current := make([]S, 0, len(o.slots)-o.stale)
	for _, s := range o.slots {
		if s.Current() {
			current = append(current, s)
		}
	}
	o.slots, o.stale = current, 0
}
