package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/internal/testenv"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// BenchmarkFeedVsSelect reads every record of one object through the REST
// change feed (GET …/records, 1,000 a page, JSON decoded by the client)
// and, side by side in the same run, with a plain SELECT of the same rows
// and columns (pgx, rows decoded), and reports records/s of each and
// their ratio. FEED_BENCH_RECORDS sets the size (default 1,000,000):
//
//	FEED_BENCH_RECORDS=1000000 go test ./api -run '^$' -bench FeedVsSelect -benchtime 1x
func BenchmarkFeedVsSelect(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("FEED_BENCH_RECORDS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("FEED_BENCH_RECORDS=%q: want a positive count", v)
		}
	}
	st := testenv.Store(b)
	ctx := context.Background()
	k := model.ObjectKey{Tenant: "feedbench", Provider: "demo", ObjectType: "accounts"}
	obj, _, err := st.AddObject(ctx, store.NewObject{Key: k, Interval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	// Demo-sized accounts, all written by one transaction (one feed
	// position, ordered by external id): the shape after a first sync.
	if _, err := st.Pool.Exec(ctx, `INSERT INTO records (object_id, external_id, data, hash, modified_at, cycle_seq)
		SELECT $1, 'acc_' || lpad(i::text, 7, '0'),
			jsonb_build_object('id', 'acc_' || lpad(i::text, 7, '0'), 'name', 'Company ' || i, 'industry', 'Software',
				'employees', i % 5000, 'website', 'https://company-' || i || '.example.com', 'modified_at', '2026-01-01T00:00:00Z'),
			decode(md5(i::text), 'hex'), '2026-01-01T00:00:00Z'::timestamptz + i * interval '1 millisecond', 1
		FROM generate_series(1, $2::int) AS i`, obj.ID, n); err != nil {
		b.Fatal(err)
	}
	if _, err := st.Pool.Exec(ctx, `ANALYZE records`); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(New(&control.Service{Store: st}, Options{}))
	b.Cleanup(srv.Close)
	client := srv.Client()

	feed := func() int {
		got, cursor := 0, ""
		for {
			u := srv.URL + "/sync/v1/objects/" + k.String() + "/records?limit=1000"
			if cursor != "" {
				u += "&after=" + url.QueryEscape(cursor)
			}
			resp, err := client.Get(u)
			if err != nil {
				b.Fatal(err)
			}
			var page control.FeedPage
			err = json.NewDecoder(resp.Body).Decode(&page)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("feed page: %d %v", resp.StatusCode, err)
			}
			got += len(page.Records)
			cursor = page.NextCursor
			if !page.HasMore {
				return got
			}
		}
	}
	svc := &control.Service{Store: st}
	// The same pages without HTTP and JSON: what the feed's query costs.
	direct := func() int {
		got := 0
		var after *model.FeedCursor
		for {
			page, err := svc.Records(ctx, k, after, 1000)
			if err != nil {
				b.Fatal(err)
			}
			got += len(page.Records)
			if !page.HasMore {
				return got
			}
			cur, err := model.DecodeFeedCursor(page.NextCursor)
			if err != nil {
				b.Fatal(err)
			}
			after = &cur
		}
	}
	plain := func() int {
		rows, err := st.Pool.Query(ctx, `SELECT external_id, data, modified_at, deleted_at, updated_at FROM records WHERE object_id = $1 ORDER BY change_xid, external_id`, obj.ID)
		if err != nil {
			b.Fatal(err)
		}
		defer rows.Close()
		got := 0
		for rows.Next() {
			var id string
			var data []byte // the cheapest scan of jsonb
			var modified, updated time.Time
			var deleted *time.Time
			if err := rows.Scan(&id, &data, &modified, &deleted, &updated); err != nil {
				b.Fatal(err)
			}
			got++
		}
		if rows.Err() != nil {
			b.Fatal(rows.Err())
		}
		return got
	}
	var feedTime, directTime, selectTime time.Duration
	b.ResetTimer()
	for range b.N {
		// Alternate which goes first, so that neither always reads a
		// cache the other warmed.
		for _, which := range []string{"feed", "direct", "select"} {
			start := time.Now()
			var got int
			switch which {
			case "feed":
				got = feed()
				feedTime += time.Since(start)
			case "direct":
				got = direct()
				directTime += time.Since(start)
			default:
				got = plain()
				selectTime += time.Since(start)
			}
			if got != n {
				b.Fatalf("%s read %d records; want %d", which, got, n)
			}
		}
	}
	b.StopTimer()
	total := float64(n * b.N)
	b.ReportMetric(total/feedTime.Seconds(), "feed-records/s")
	b.ReportMetric(total/selectTime.Seconds(), "select-records/s")
	b.ReportMetric(selectTime.Seconds()/feedTime.Seconds(), "feed/select")
	b.ReportMetric(selectTime.Seconds()/directTime.Seconds(), "query/select")
	fmt.Fprintf(os.Stderr, "REST feed %s, its pages without HTTP %s, plain SELECT %s for %d records × %d: the REST feed reads at %.2f of a plain SELECT, its query at %.2f\n",
		feedTime.Round(time.Millisecond), directTime.Round(time.Millisecond), selectTime.Round(time.Millisecond), n, b.N,
		selectTime.Seconds()/feedTime.Seconds(), selectTime.Seconds()/directTime.Seconds())
}
