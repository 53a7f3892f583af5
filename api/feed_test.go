package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// readAll follows GET …/records from after with limit until has_more is
// false, checking each page's counts and cursor; it returns the entries
// by external id (each at most once), their order and the last cursor.
func (e *env) readAll(k model.ObjectKey, after string, limit int) (map[string]store.FeedEntry, []string, string) {
	e.t.Helper()
	byID := map[string]store.FeedEntry{}
	var order []string
	for {
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		if after != "" {
			q.Set("after", after)
		}
		var p control.FeedPage
		e.expect(http.StatusOK, "GET", objectURL(k)+"/records?"+q.Encode(), "").decode(e.t, &p)
		require.Equal(e.t, k.String(), p.Object)
		require.LessOrEqual(e.t, len(p.Records), limit)
		require.NotEmpty(e.t, p.NextCursor)
		require.Equal(e.t, len(p.Records), p.Counts.New+p.Counts.Changed+p.Counts.Deleted, "page counts")
		if len(p.Records) == 0 && after != "" {
			require.Equal(e.t, after, p.NextCursor, "an empty read keeps the cursor")
		}
		for _, r := range p.Records {
			_, dup := byID[r.ExternalID]
			require.False(e.t, dup, "%s twice", r.ExternalID)
			byID[r.ExternalID] = r
			order = append(order, r.ExternalID)
		}
		after = p.NextCursor
		if !p.HasMore {
			return byID, order, after
		}
	}
}

func TestRecordsFeed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{size: 20})
	k := e.key("accounts")
	e.expect(http.StatusCreated, "POST", "/sync/v1/objects", fmt.Sprintf(`{"object":%q,"interval":"1h"}`, k))
	e.waitFinalCycle(k)
	url := objectURL(k) + "/records"

	// The first sync's 20 records, 7 a page, all new; the changes of a
	// committed cycle show once every older transaction has ended.
	var all map[string]store.FeedEntry
	var cursor string
	e.waitFor("the first sync's records in the feed", 30*time.Second, func() bool {
		all, _, cursor = e.readAll(k, "", 7)
		return len(all) == 20
	})
	for id, r := range all {
		assert.Equal(t, model.FeedNew, r.Kind, id)
		assert.NotEmpty(t, r.Data, id)
		assert.Equal(t, 1, r.Cycle, id)
	}
	var empty control.FeedPage
	e.expect(http.StatusOK, "GET", url+"?after="+cursor, "").decode(t, &empty)
	assert.Empty(t, empty.Records)
	assert.False(t, empty.HasMore)
	assert.Equal(t, cursor, empty.NextCursor)
	assert.Contains(t, string(e.request("GET", url+"?after="+cursor, "").body), `"records":[]`)

	// A cycle with changes, additions and deletions: exactly those.
	deleted := e.demo.Delete("accounts", 2)
	changed := e.demo.Change("accounts", 3)
	added := e.demo.Add("accounts", 2)
	e.expect(http.StatusAccepted, "POST", objectURL(k)+"/trigger", "")
	e.waitFor("cycle #2", time.Minute, func() bool {
		cs := e.cycles(k)
		return len(cs) > 0 && cs[0].Seq == 2 && cs[0].Status.Final()
	})
	want := map[string]model.FeedKind{}
	for _, id := range changed {
		want[id] = model.FeedChanged
	}
	for _, id := range added {
		want[id] = model.FeedNew
	}
	for _, id := range deleted {
		want[id] = model.FeedDeleted
	}
	var got map[string]model.FeedKind
	var order []string
	deadline := time.Now().Add(30 * time.Second)
	for done := false; !done; done = len(got) >= len(want) || time.Now().After(deadline) {
		var entries map[string]store.FeedEntry
		entries, order, _ = e.readAll(k, cursor, 2)
		got = map[string]model.FeedKind{}
		for id, r := range entries {
			got[id] = r.Kind
			assert.Equal(t, 2, r.Cycle, id)
			if r.Kind == model.FeedDeleted {
				assert.Nil(t, r.Data, id)
				assert.NotNil(t, r.DeletedAt, id)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.Equal(t, want, got, "entries after the first sync (in order %v); cycles %+v", order, e.cycles(k))
	raw := string(e.request("GET", url+"?after="+cursor+"&limit=1000", "").body)
	assert.NotContains(t, raw, `"data":null`, "deleted entries carry no data")

	// Errors.
	otherObject := model.FeedCursor{ObjectID: e.object(k).ID + 1000}.Encode()
	for _, bad := range []struct{ query, says string }{
		{"limit=0", "from 1 to 1000"},
		{"limit=1001", "from 1 to 1000"},
		{"limit=x", "from 1 to 1000"},
		{"after=nonsense", "next_cursor of an earlier answer"},
		{"after=" + cursor + "x", "next_cursor of an earlier answer"},
		{"after=" + otherObject, "another object"},
		{"cursor=" + cursor, "accepts after, limit"},
		{"after=" + cursor + "&after=" + cursor, "given 2 times"},
	} {
		m := e.expect(http.StatusBadRequest, "GET", url+"?"+bad.query, "").json(t)
		assert.Contains(t, m["error"], bad.says, bad.query)
	}
	e.expect(http.StatusNotFound, "GET", objectURL(e.key("unknown"))+"/records", "")
	e.expect(http.StatusNotFound, "GET", objectURL(e.key("unknown"))+"/records?after="+cursor, "")
	e.expect(http.StatusBadRequest, "GET", "/sync/v1/objects/"+e.tenant+"/demo/BAD/records", "")
	e.expect(http.StatusMethodNotAllowed, "POST", url, "")

	// Removed and added again: the old cursor is another object's.
	e.expect(http.StatusOK, "DELETE", objectURL(k), "")
	e.expect(http.StatusNotFound, "GET", url+"?after="+cursor, "")
	e.expect(http.StatusCreated, "POST", "/sync/v1/objects", fmt.Sprintf(`{"object":%q,"interval":"1h"}`, k))
	m := e.expect(http.StatusBadRequest, "GET", url+"?after="+cursor, "").json(t)
	assert.True(t, strings.Contains(m["error"].(string), "removed and added again"), m["error"])
}
