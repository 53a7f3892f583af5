package api

import (
	"net/http"

	"github.com/syncloop/syncloop/api/request"
)

// records is GET …/records?after=<cursor>&limit=N: the object's change
// feed after the cursor (control.FeedPage).
func (s *server) records(r *http.Request) (int, any, error) {
	k, err := objectKey(r)
	if err != nil {
		return 0, nil, err
	}
	q := r.URL.Query()
	n, err := request.ParseLimit("limit", q.Get("limit"), request.DefaultFeedLimit, 1, request.MaxLimit)
	if err != nil {
		return 0, nil, err
	}
	after, err := request.ParseCursor("after", q.Get("after"))
	if err != nil {
		return 0, nil, err
	}
	p, err := s.svc.Records(r.Context(), k, after, n)
	return http.StatusOK, p, err
}
