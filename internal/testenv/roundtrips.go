package testenv

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncloop/syncloop/store"
)

// RoundTrips counts what a pool sends to PostgreSQL: every statement sent
// on its own (BEGIN and COMMIT included) is one round trip, and so is a
// batch, whose statements go together in one pipeline.
type RoundTrips struct{ n, batched atomic.Int64 }

// N is the round trips so far.
func (c *RoundTrips) N() int64 { return c.n.Load() }

// Batched is how many statements went in batches so far.
func (c *RoundTrips) Batched() int64 { return c.batched.Load() }

func (c *RoundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *RoundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *RoundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *RoundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {
	c.batched.Add(1)
}

func (c *RoundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// CountingStore is a store on base's database whose round trips are
// counted; its pool is closed when the test ends.
func CountingStore(t testing.TB, base *store.Store) (*store.Store, *RoundTrips) {
	t.Helper()
	cfg := base.Pool.Config()
	counter := &RoundTrips{}
	cfg.ConnConfig.Tracer = counter
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &store.Store{Pool: pool}, counter
}
