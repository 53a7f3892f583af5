package api

import (
	"context"
	"errors"
	"fmt"
	"github.com/syncloop/syncloop/model"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/api/serviceerror"

	"github.com/syncloop/syncloop/api/request"
	"github.com/syncloop/syncloop/control"
)

// Error codes: the "code" of every error body.
const (
	codeBadRequest       = request.CodeBadRequest
	codeUnauthorized     = "unauthorized"
	codeNotFound         = "not_found"
	codeMethodNotAllowed = "method_not_allowed"
	codeCycleRunning     = "cycle_running"
	codeBodyTooLarge     = request.CodeBodyTooLarge
	codeUnsupportedMedia = request.CodeUnsupportedMedia
	codeInternal         = "internal"
	codeUnavailable      = "unavailable"
	codeProvider         = "provider_unavailable"
	codeClientClosed     = "client_closed"
)

// statusClientClosed is logged when the client went away before the answer
// (nginx's 499); the client never sees it.
const statusClientClosed = 499

// apiError is an error with its HTTP status and code.
type apiError struct {
	status  int
	code    string
	msg     string
	running []string
	// retryAfter, if set, is sent as the Retry-After header.
	retryAfter time.Duration
	// detail is logged, never sent.
	detail string
}

func (e *apiError) Error() string { return e.msg }

// errorBody is the JSON of every error response.
type errorBody struct {
	Error     string   `json:"error"`
	Code      string   `json:"code"`
	RequestID string   `json:"request_id,omitempty"`
	Running   []string `json:"running,omitempty"`
}

// classify maps an error from control (or from the decoders) to its HTTP
// status. Unknown errors are 500: their text may name hosts or queries, so
// it is logged and the client gets a generic message with the request id.
func classify(err error, requestID string) *apiError {
	var ae *apiError
	var reqErr *request.Error
	var ie *control.InputError
	var nf *control.NotFoundError
	var ce *control.ConflictError
	var pe *control.ProviderError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &reqErr):
		return &apiError{status: reqErr.Status, code: reqErr.Code, msg: reqErr.Msg}
	case errors.As(err, &ie):
		return &apiError{status: http.StatusBadRequest, code: codeBadRequest, msg: model.Clip(ie.Error(), 500)}
	case errors.As(err, &nf):
		return &apiError{status: http.StatusNotFound, code: codeNotFound,
			msg: fmt.Sprintf("object %s not found: add it with POST /sync/v1/objects, or see GET /sync/v1/objects", nf.Key)}
	case errors.As(err, &ce):
		running := ce.Running
		if running == nil {
			running = []string{}
		}
		return &apiError{status: http.StatusPreconditionFailed, code: codeCycleRunning, msg: ce.Fix("force=true"), running: running}
	case errors.As(err, &pe):
		// Connector errors never carry a credential (connectors.Error).
		return &apiError{status: http.StatusBadGateway, code: codeProvider, msg: model.Clip(pe.Error(), 500), detail: err.Error()}
	case errors.Is(err, context.Canceled):
		return &apiError{status: statusClientClosed, code: codeClientClosed, msg: "the client closed the request", detail: err.Error()}
	}
	if dep, ok := unavailable(err); ok {
		return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, detail: err.Error(),
			msg: fmt.Sprintf("%s; retry later (request id %s)", dep, requestID)}
	}
	return &apiError{status: http.StatusInternalServerError, code: codeInternal, detail: err.Error(),
		msg: fmt.Sprintf("internal error: the server log has the details under request id %s", requestID)}
}

// unavailable recognises errors that mean PostgreSQL or Temporal (or a
// worker answering a query) could not be reached in time.
func unavailable(err error) (string, bool) {
	var pgConn *pgconn.ConnectError
	var tUnavail *serviceerror.Unavailable
	var tDeadline *serviceerror.DeadlineExceeded
	var netErr *net.OpError
	switch {
	case errors.As(err, &pgConn):
		return "PostgreSQL is unreachable", true
	case errors.As(err, &tUnavail):
		return "Temporal is unreachable", true
	case errors.As(err, &tDeadline), errors.Is(err, context.DeadlineExceeded):
		return "PostgreSQL, Temporal or the worker did not answer in time", true
	case errors.As(err, &netErr):
		return "a dependency is unreachable", true
	}
	return "", false
}
