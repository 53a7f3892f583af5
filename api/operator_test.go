package api

// What operators see is exactly true, over REST: record counts in the list
// and an add that changes nothing saying so.

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/model"
)

// TestListCountsRecords: GET /sync/v1/objects carries each object's real
// record counts, the same as GET of the object.
func TestListCountsRecords(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{size: 30})
	k := e.key("accounts")
	e.expect(http.StatusCreated, "POST", "/sync/v1/objects", fmt.Sprintf(`{"object":%q,"interval":"1h"}`, k))
	require.Equal(t, model.StatusCompleted, e.waitFinalCycle(k).Status)

	var shown control.ObjectView
	e.expect(http.StatusOK, "GET", objectURL(k), "").decode(t, &shown)
	require.EqualValues(t, 30, shown.Records)
	var list ObjectList
	e.expect(http.StatusOK, "GET", "/sync/v1/objects", "").decode(t, &list)
	require.Len(t, list.Objects, 1)
	assert.Equal(t, shown.Records, list.Objects[0].Records)
	assert.Equal(t, shown.DeletedRecords, list.Objects[0].DeletedRecords)
}

// TestAddExistingWithOtherIntervalSaysSo: adding an existing object with
// another interval keeps the old one (200) and says so, naming
// set-interval's route.
func TestAddExistingWithOtherIntervalSaysSo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	k := e.key("accounts")
	m := e.expect(http.StatusCreated, "POST", "/sync/v1/objects", fmt.Sprintf(`{"object":%q,"interval":"30m"}`, k)).json(t)
	assert.NotContains(t, m, "notice")

	m = e.expect(http.StatusOK, "POST", "/sync/v1/objects", fmt.Sprintf(`{"object":%q,"interval":"2h"}`, k)).json(t)
	assert.Equal(t, "30m", m["interval"])
	notice, _ := m["notice"].(string)
	for _, w := range []string{"30m", "2h", "not applied", "set-interval", "PUT /sync/v1/objects/" + k.String() + "/interval"} {
		assert.Contains(t, notice, w)
	}
	assert.Equal(t, 30*60, int(e.object(k).Interval.Seconds()))

	for _, body := range []string{fmt.Sprintf(`{"object":%q}`, k), fmt.Sprintf(`{"object":%q,"interval":"30m"}`, k)} {
		m = e.expect(http.StatusOK, "POST", "/sync/v1/objects", body).json(t)
		assert.NotContains(t, m, "notice", body)
	}
}
