package store

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/syncloop/syncloop/connectors"
)

// RetrieveProgress is how far a cycle's Retrieve got, as committed.
type RetrieveProgress struct {
	Pages   int        `json:"pages"`
	Records int        `json:"records"`
	Token   string     `json:"token"`
	Cursor  *time.Time `json:"cursor,omitempty"`
	Done    bool       `json:"done"`
	// Full is true when the cycle lists everything (initial sync, or a
	// resync after the provider lost track of changes).
	Full bool `json:"full"`
}

// GetRetrieveProgress reads the committed progress of a cycle's Retrieve.
func (s *Store) GetRetrieveProgress(ctx context.Context, cycleID int64) (RetrieveProgress, error) {
	var p RetrieveProgress
	err := s.Pool.QueryRow(ctx, `SELECT retrieve_pages, retrieve_records, retrieve_token, retrieve_cursor, retrieve_done, full_sync
		FROM sync_cycles WHERE id = $1`, cycleID).Scan(&p.Pages, &p.Records, &p.Token, &p.Cursor, &p.Done, &p.Full)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, ErrNotFound
	}
	return p, err
}

// StagePage COPYs one page into staged_records and records the progress
// (next token, cursor) in the same transaction: a page is either staged
// with its progress or not at all, so a retry never stages it twice.
// expectPages guards against two attempts racing: the update only applies
// if the committed page count is still the one the caller resumed from.
func (s *Store) StagePage(ctx context.Context, cycleID int64, expectPages int, page connectors.Page) (RetrieveProgress, error) {
	var out RetrieveProgress
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		var cursor any
		if !page.Cursor.IsZero() {
			cursor = page.Cursor
		}
		err := tx.QueryRow(ctx, `UPDATE sync_cycles SET retrieve_pages = retrieve_pages + 1,
				retrieve_records = retrieve_records + $3, retrieve_token = $4,
				retrieve_cursor = coalesce($5, retrieve_cursor), retrieve_done = $6
			WHERE id = $1 AND retrieve_pages = $2 AND NOT retrieve_done AND status = 'Processing'
			RETURNING retrieve_pages, retrieve_records, retrieve_token, retrieve_cursor, retrieve_done, full_sync`,
			cycleID, expectPages, len(page.Records), page.NextPageToken, cursor, page.NextPageToken == "").
			Scan(&out.Pages, &out.Records, &out.Token, &out.Cursor, &out.Done, &out.Full)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("cycle %d moved on (another attempt staged page %d, or the cycle was closed)", cycleID, expectPages+1)
		}
		if err != nil {
			return err
		}
		return stageRows(ctx, tx, stagedRows(cycleID, out.Pages, page.Records))
	})
	return out, err
}

var stagedColumns = []string{"cycle_id", "page", "external_id", "modified_at", "deleted", "data", "raw", "reject_reason", "hash"}

const (
	colData   = 5
	colRaw    = 6
	colReason = 7
	colHash   = 8
)

func stagedRows(cycleID int64, pageNo int, records []connectors.Record) [][]any {
	rows := make([][]any, len(records))
	var buf bytes.Buffer
	for i, r := range records {
		var modified any
		if !r.ModifiedAt.IsZero() {
			modified = r.ModifiedAt
		}
		data, raw, reason, hash := stageable(r, &buf)
		id, idReason := stageableID(r.ExternalID)
		if reason == "" {
			reason = idReason
		}
		rows[i] = []any{cycleID, pageNo, id, modified, r.Deleted, data, raw, reason, hash}
	}
	return rows
}

// stageRows COPYs a page. If PostgreSQL refuses a value the checks above
// could not foresee (a lone surrogate escape, a number out of jsonb's
// range), the page is staged row by row instead, each row in its own
// savepoint, and a refused row is kept as raw text with PostgreSQL's
// reason: one bad record must never block its page, or every retry fails
// the same way and the object stops syncing.
func stageRows(ctx context.Context, tx pgx.Tx, rows [][]any) error {
	return copyRows(ctx, tx, pgx.Identifier{"staged_records"}, stagedColumns, rows)
}

func copyRows(ctx context.Context, tx pgx.Tx, table pgx.Identifier, columns []string, rows [][]any) error {
	copyInSavepoint := func(ctx context.Context, tx pgx.Tx, rows [][]any) error {
		return copyInSavepointTo(ctx, tx, table, columns, rows)
	}
	err := copyInSavepoint(ctx, tx, rows)
	if err == nil || !isDataError(err) {
		return err
	}
	for _, row := range rows {
		err := copyInSavepoint(ctx, tx, [][]any{row})
		if err == nil {
			continue
		}
		if !isDataError(err) {
			return err
		}
		refused := slices.Clone(row)
		refused[colData] = nil
		if refused[colRaw] == nil {
			refused[colRaw] = rawText(row[colData])
		}
		refused[colReason] = "PostgreSQL refused the payload: " + pgMessage(err)
		refused[colHash] = nil
		if err := copyInSavepoint(ctx, tx, [][]any{refused}); err != nil {
			return err
		}
	}
	return nil
}

func copyInSavepointTo(ctx context.Context, tx pgx.Tx, table pgx.Identifier, columns []string, rows [][]any) error {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return err
	}
	if _, err := sp.CopyFrom(ctx, table, columns, pgx.CopyFromRows(rows)); err != nil {
		_ = sp.Rollback(ctx)
		return err
	}
	return sp.Commit(ctx)
}

// isDataError reports PostgreSQL's class 22 (data exception): the value,
// not the database, is at fault.
func isDataError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "22")
}

func pgMessage(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Message
	}
	return err.Error()
}

func rawText(v any) string {
	if b, ok := v.([]byte); ok {
		return cleanText(string(b))
	}
	return ""
}

// stageable decides whether a payload can be stored as jsonb. Anything
// PostgreSQL is known to refuse is staged as raw text with a reason
// instead, and ends in rejected_records.
//
// It also returns the content hash that decides "changed or not": md5 of
// the payload with insignificant whitespace removed (one pass both
// validates and compacts). Key order counts: providers send a stable
// order (the Salesforce connector sorts keys), and hashing here instead
// of canonicalising jsonb in SQL keeps a full sync near COPY speed.
func stageable(r connectors.Record, buf *bytes.Buffer) (data any, raw any, reason string, hash any) {
	if r.Deleted {
		// A tombstone's payload is not stored; only its id and time matter.
		return []byte("{}"), nil, "", nil
	}
	if !utf8.Valid(r.Data) {
		return nil, cleanText(string(r.Data)), "payload is not valid UTF-8", nil
	}
	buf.Reset()
	if json.Compact(buf, r.Data) != nil {
		return nil, cleanText(string(r.Data)), "payload is not valid JSON", nil
	}
	if bytes.Contains(r.Data, []byte(`\u0000`)) {
		return nil, cleanText(string(r.Data)), "payload contains a NUL character, which PostgreSQL jsonb cannot store", nil
	}
	sum := md5.Sum(buf.Bytes())
	return []byte(r.Data), nil, "", sum[:]
}

// stageableID keeps ids exact: cleaning an invalid id could merge two
// distinct records into one, so such a record is rejected instead (with a
// readable form of its id).
func stageableID(id string) (string, string) {
	if !utf8.ValidString(id) || strings.ContainsRune(id, 0) {
		return cleanText(id), "id is not valid UTF-8 text"
	}
	return id, ""
}

// cleanText makes s storable in a text column.
func cleanText(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ReplaceAll(s, "\x00", "")
}

// BatchResult is what one ProcessBatch did.
type BatchResult struct {
	Staged    int  `json:"staged"`
	Rejected  int  `json:"rejected"`
	New       int  `json:"new"`
	Changed   int  `json:"changed"`
	Unchanged int  `json:"unchanged"`
	Deleted   int  `json:"deleted"`
	Remaining bool `json:"remaining"`
	// CursorMoved is true when this batch was the last one and moved the
	// object's cursor.
	CursorMoved bool `json:"cursor_moved"`
}

// ProcessBatch applies up to limit staged records of a cycle to records,
// in one transaction that also deletes them from staging and adds to the
// cycle's counts. When staging is empty afterwards and cursor is not nil,
// the object's cursor moves in that same transaction, so it never gets
// ahead of the records it covers.
//
// Rows whose content hash is unchanged are not rewritten. Within a batch
// the newest version of a record wins; across batches an older version
// never overwrites a newer one.
func (s *Store) ProcessBatch(ctx context.Context, cycleID int64, limit int, cursor *time.Time) (BatchResult, error) {
	var r BatchResult
	if limit <= 0 {
		return r, fmt.Errorf("process staged records of cycle %d: batch size %d must be positive", cycleID, limit)
	}
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		var objectID int64
		var seq int
		var status string
		var snapshot bool
		if err := tx.QueryRow(ctx, `SELECT object_id, seq, status, snapshot FROM sync_cycles WHERE id = $1 FOR UPDATE`, cycleID).
			Scan(&objectID, &seq, &status, &snapshot); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrNotFound
			}
			return fmt.Errorf("load cycle %d: %w", cycleID, err)
		}
		if status != "Processing" {
			return fmt.Errorf("cycle %d is %s, not Processing: it was closed (abandoned or finished) and cannot be processed", cycleID, status)
		}
		err := tx.QueryRow(ctx, processBatchSQL, cycleID, limit, objectID, seq, snapshot).
			Scan(&r.Staged, &r.Rejected, &r.New, &r.Changed, &r.Deleted, &r.Unchanged)
		if err != nil {
			return err
		}
		r.Unchanged -= r.New + r.Changed
		if _, err := tx.Exec(ctx, `UPDATE sync_cycles SET records_new = records_new + $2, records_changed = records_changed + $3,
				records_unchanged = records_unchanged + $4, records_deleted = records_deleted + $5, records_rejected = records_rejected + $6
			WHERE id = $1`, cycleID, r.New, r.Changed, r.Unchanged, r.Deleted, r.Rejected); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM staged_records WHERE cycle_id = $1)`, cycleID).Scan(&r.Remaining); err != nil {
			return err
		}
		if r.Remaining || cursor == nil {
			return nil
		}
		// Last batch of a complete retrieve: the data is safe, move the cursor.
		if snapshot {
			// A complete, error-free full listing: what it did not see is gone.
			tag, err := tx.Exec(ctx, `UPDATE records r SET deleted_at = now(), updated_at = now(), cycle_seq = $3
				WHERE r.object_id = $1 AND r.deleted_at IS NULL
					AND NOT EXISTS (SELECT 1 FROM resync_seen s WHERE s.cycle_id = $2 AND s.external_id = r.external_id)`, objectID, cycleID, seq)
			if err != nil {
				return err
			}
			r.Deleted += int(tag.RowsAffected())
			if _, err := tx.Exec(ctx, `UPDATE sync_cycles SET records_deleted = records_deleted + $2 WHERE id = $1`, cycleID, tag.RowsAffected()); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM resync_seen WHERE cycle_id = $1`, cycleID); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE integration_objects SET cursor = $2, last_success_at = now(), updated_at = now() WHERE id = $1`,
			objectID, *cursor); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE sync_cycles SET cursor_after = $2 WHERE id = $1`, cycleID, *cursor)
		r.CursorMoved = true
		return err
	})
	if err != nil {
		return BatchResult{}, fmt.Errorf("process staged records of cycle %d: %w", cycleID, err)
	}
	return r, nil
}

// One statement per batch keeps the data in the server: staged rows are
// deleted and returned, invalid ones go to rejected_records, the newest
// version per id is upserted (skipping equal hashes) or tombstoned.
const processBatchSQL = `
WITH batch AS (
	DELETE FROM staged_records
	WHERE id IN (SELECT id FROM staged_records WHERE cycle_id = $1 ORDER BY id LIMIT $2)
	RETURNING id, external_id, modified_at, deleted, data, raw, reject_reason,
		coalesce(hash, decode(md5(data::text), 'hex')) AS hash
` + applySQL

// applyPageSQL applies rows passed as parallel arrays ($6–$12): no
// staging table at all, so nothing is written but the records themselves.
const applyPageSQL = `
WITH batch AS (
	SELECT b.* FROM unnest($6::text[], $7::timestamptz[], $8::boolean[], $9::text[], $10::text[], $11::text[], $12::bytea[])
		WITH ORDINALITY AS u(external_id, modified_at, deleted, data_text, raw, reject_reason, hash, id),
		LATERAL (SELECT u.id, u.external_id, u.modified_at, u.deleted, u.data_text::jsonb AS data, u.raw, u.reject_reason, u.hash) b
	WHERE $2::int >= 0
` + applySQL

// applySQL applies a batch of rows (the CTE "batch"): invalid ones go to
// rejected_records, the newest version per id is upserted (skipping equal
// hashes) or tombstoned, a snapshot's ids are remembered. The statement
// keeps the data in the server.
const applySQL = `), checked AS (
	SELECT *, CASE
		WHEN reject_reason <> '' THEN reject_reason
		WHEN external_id = '' THEN 'record has no id'
		WHEN data IS NULL OR jsonb_typeof(data) <> 'object' THEN 'payload is not a JSON object'
		ELSE '' END AS reason
	FROM batch
), rejected AS (
	INSERT INTO rejected_records (object_id, cycle_seq, external_id, reason, payload)
	SELECT $3, $4, external_id, reason, coalesce(raw, data::text, '') FROM checked WHERE reason <> ''
	RETURNING 1
), latest AS (
	SELECT DISTINCT ON (external_id) external_id, modified_at, deleted, data, hash
	FROM checked WHERE reason = ''
	ORDER BY external_id, modified_at DESC NULLS LAST, id DESC
), seen AS (
	INSERT INTO resync_seen (cycle_id, external_id)
	SELECT $1, external_id FROM latest WHERE $5 AND NOT deleted
	ON CONFLICT DO NOTHING
	RETURNING 1
), upserted AS (
	INSERT INTO records AS r (object_id, external_id, data, hash, modified_at, cycle_seq)
	SELECT $3, external_id, data, hash, modified_at, $4 FROM latest WHERE NOT deleted
	ON CONFLICT (object_id, external_id) DO UPDATE
		SET data = excluded.data, hash = excluded.hash, modified_at = excluded.modified_at,
			deleted_at = NULL, cycle_seq = excluded.cycle_seq, updated_at = now()
		WHERE (r.hash <> excluded.hash OR r.deleted_at IS NOT NULL)
			AND (r.modified_at IS NULL OR excluded.modified_at IS NULL OR excluded.modified_at >= r.modified_at)
	RETURNING (xmax = 0) AS inserted
), tombstoned AS (
	UPDATE records r SET deleted_at = now(), updated_at = now(), cycle_seq = $4,
		modified_at = coalesce(l.modified_at, r.modified_at)
	FROM latest l
	WHERE l.deleted AND r.object_id = $3 AND r.external_id = l.external_id AND r.deleted_at IS NULL
		AND (r.modified_at IS NULL OR l.modified_at IS NULL OR l.modified_at >= r.modified_at)
	RETURNING 1
)
SELECT (SELECT count(*) FROM batch)::int,
	(SELECT count(*) FROM rejected)::int,
	(SELECT count(*) FROM upserted WHERE inserted)::int,
	(SELECT count(*) FROM upserted WHERE NOT inserted)::int,
	(SELECT count(*) FROM tombstoned)::int,
	(SELECT count(*) FROM latest WHERE NOT deleted)::int`

// RestartAsSnapshot turns a cycle's Retrieve into a full listing from the
// first page (the provider can no longer say what changed since the
// cursor): what was staged is discarded, and the cycle becomes a snapshot,
// so records the listing does not see are deleted once it completes.
func (s *Store) RestartAsSnapshot(ctx context.Context, cycleID int64) error {
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE sync_cycles SET full_sync = true, snapshot = true, fresh = false, retrieve_pages = 0, retrieve_records = 0,
				retrieve_token = '', retrieve_cursor = NULL, retrieve_done = false
			WHERE id = $1 AND status = 'Processing'`, cycleID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("cycle %d is no longer Processing", cycleID)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM staged_records WHERE cycle_id = $1`, cycleID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM resync_seen WHERE cycle_id = $1`, cycleID)
		return err
	})
}

// IsSnapshot reports whether a cycle lists the whole object over existing
// records (its Retrieve must then not use the cursor).
func (s *Store) IsSnapshot(ctx context.Context, cycleID int64) (bool, error) {
	var snap bool
	err := s.Pool.QueryRow(ctx, `SELECT snapshot FROM sync_cycles WHERE id = $1`, cycleID).Scan(&snap)
	return snap, err
}

// arrays holds a batch column by column, for applyPageSQL.
type arrays struct {
	ids      []string
	modified []*time.Time
	deleted  []bool
	data     [][]byte // nil: NULL
	raw      []*string
	reasons  []string
	hashes   [][]byte
}

func pageArrays(rows [][]any) *arrays {
	a := &arrays{}
	for _, row := range rows {
		a.ids = append(a.ids, row[2].(string))
		var m *time.Time
		if t, ok := row[3].(time.Time); ok {
			m = &t
		}
		a.modified = append(a.modified, m)
		a.deleted = append(a.deleted, row[4].(bool))
		var raw *string
		d, _ := row[colData].([]byte)
		if s, ok := row[colRaw].(string); ok {
			raw = &s
		}
		a.data, a.raw = append(a.data, d), append(a.raw, raw)
		a.reasons = append(a.reasons, row[colReason].(string))
		h, _ := row[colHash].([]byte)
		a.hashes = append(a.hashes, h)
	}
	return a
}

// applyArrays runs applyPageSQL. If PostgreSQL refuses a payload the
// checks in stageable could not foresee, the refused rows are found one by
// one and turned into rejections, and the batch is applied again.
func applyArrays(ctx context.Context, tx pgx.Tx, a *arrays, cycleID, objectID int64, seq int, snapshot bool, r *BatchResult) error {
	run := func() error {
		sp, err := tx.Begin(ctx)
		if err != nil {
			return err
		}
		err = sp.QueryRow(ctx, applyPageSQL, cycleID, 0, objectID, seq, snapshot, a.ids, a.modified, a.deleted, a.data, a.raw, a.reasons, a.hashes).
			Scan(&r.Staged, &r.Rejected, &r.New, &r.Changed, &r.Deleted, &r.Unchanged)
		if err != nil {
			_ = sp.Rollback(ctx)
			return err
		}
		return sp.Commit(ctx)
	}
	err := run()
	if err == nil || !isDataError(err) {
		return err
	}
	for i, d := range a.data {
		if d == nil {
			continue
		}
		sp, err := tx.Begin(ctx)
		if err != nil {
			return err
		}
		var ok bool
		if err := sp.QueryRow(ctx, `SELECT $1::text::jsonb IS NOT NULL`, string(d)).Scan(&ok); err != nil {
			_ = sp.Rollback(ctx)
			if !isDataError(err) {
				return err
			}
			raw := cleanText(string(d))
			a.data[i], a.raw[i], a.hashes[i] = nil, &raw, nil
			a.reasons[i] = "PostgreSQL refused the payload: " + pgMessage(err)
			continue
		}
		if err := sp.Commit(ctx); err != nil {
			return err
		}
	}
	return run()
}

// ApplyResult is what ApplyPage did.
type ApplyResult struct {
	Progress RetrieveProgress `json:"progress"`
	Batch    BatchResult      `json:"batch"`
}

// ApplyPage applies one retrieved page in one transaction: the page is
// COPYed into a transaction-scoped temporary table (no WAL), applied to
// records exactly as ProcessBatch would, and the retrieve progress (next
// page token, page cursor) is recorded with it — so a retry resumes after
// the last applied page and nothing is applied twice. The last page of a
// complete listing also applies a snapshot's deletions and moves the
// object's cursor, in the same transaction.
//
// Compared with staging every page and applying it in a second pass, this
// writes each record once instead of three times (staging insert, staging
// delete, records), which is what keeps a full sync near raw COPY speed.
func (s *Store) ApplyPage(ctx context.Context, cycleID int64, expectPages int, page connectors.Page) (ApplyResult, error) {
	return s.ApplyPages(ctx, cycleID, expectPages, []connectors.Page{page})
}

// ApplyPages is ApplyPage for consecutive pages in one transaction (fewer
// commits for small pages).
//
// The transaction commits asynchronously (synchronous_commit off): if
// PostgreSQL crashes right after, the pages and their progress are lost
// together and are simply fetched again, so nothing is lost or doubled;
// FinishCycle's ordinary commit flushes the WAL before a cycle is
// reported done.
func (s *Store) ApplyPages(ctx context.Context, cycleID int64, expectPages int, pages []connectors.Page) (ApplyResult, error) {
	return s.ApplyPagesOrdered(ctx, cycleID, expectPages, pages, nil)
}

// ApplyPagesOrdered is ApplyPages for batches applied concurrently: the
// records are written first, then inOrder (if not nil) waits until the
// previous batch has committed, and only then is the progress recorded
// and the transaction committed. Batches thus overlap their expensive
// part but commit strictly in page order, so the resume token is always
// exact; an older version of a record applied late never overwrites a
// newer one (the modified_at guard).
func (s *Store) ApplyPagesOrdered(ctx context.Context, cycleID int64, expectPages int, pages []connectors.Page, inOrder func() error) (ApplyResult, error) {
	var out ApplyResult
	if len(pages) == 0 {
		return out, fmt.Errorf("apply pages of cycle %d: no page", cycleID)
	}
	last := pages[len(pages)-1]
	var cursor any
	var all []connectors.Record
	for _, p := range pages {
		all = append(all, p.Records...)
		if !p.Cursor.IsZero() {
			cursor = p.Cursor
		}
	}
	cols := pageArrays(stagedRows(cycleID, expectPages+1, all))
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
			return err
		}
		var objectID int64
		var seq int
		var snapshot, fresh bool
		closed := func(err error) error {
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("cycle %d is not Processing any more (closed by a restart or finished): not applying its pages", cycleID)
			}
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT object_id, seq, snapshot, fresh FROM sync_cycles WHERE id = $1 AND status = 'Processing'`, cycleID).
			Scan(&objectID, &seq, &snapshot, &fresh); err != nil {
			return closed(err)
		}
		r := &out.Batch
		copied := false
		if fresh {
			var err error
			if copied, err = copyFresh(ctx, tx, cols, objectID, seq, r); err != nil {
				return err
			}
		}
		if !copied {
			if err := applyArrays(ctx, tx, cols, cycleID, objectID, seq, snapshot, r); err != nil {
				return err
			}
			r.Unchanged -= r.New + r.Changed
		}
		if inOrder != nil {
			if err := inOrder(); err != nil {
				return err
			}
		}
		// Lock the cycle row only now, so concurrent batches do not queue
		// behind each other while writing records.
		if err := tx.QueryRow(ctx, `SELECT 1 FROM sync_cycles WHERE id = $1 AND status = 'Processing' FOR UPDATE`, cycleID).Scan(new(int)); err != nil {
			return closed(err)
		}
		err := tx.QueryRow(ctx, `UPDATE sync_cycles SET retrieve_pages = retrieve_pages + $7,
				retrieve_records = retrieve_records + $3, retrieve_token = $4,
				retrieve_cursor = coalesce($5, retrieve_cursor), retrieve_done = $6
			WHERE id = $1 AND retrieve_pages = $2 AND NOT retrieve_done
			RETURNING retrieve_pages, retrieve_records, retrieve_token, retrieve_cursor, retrieve_done, full_sync`,
			cycleID, expectPages, len(all), last.NextPageToken, cursor, last.NextPageToken == "", len(pages)).
			Scan(&out.Progress.Pages, &out.Progress.Records, &out.Progress.Token, &out.Progress.Cursor, &out.Progress.Done, &out.Progress.Full)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("cycle %d moved on (another attempt applied page %d)", cycleID, expectPages+1)
		}
		if err != nil {
			return err
		}
		if out.Progress.Done {
			return finishListing(ctx, tx, cycleID, objectID, seq, snapshot, r)
		}
		return addCounts(ctx, tx, cycleID, r)
	})
	if err != nil {
		return ApplyResult{}, fmt.Errorf("apply pages %d-%d of cycle %d: %w", expectPages+1, expectPages+len(pages), cycleID, err)
	}
	return out, nil
}

// finishListing closes a complete listing: a snapshot deletes what it did
// not see, and the cursor moves — in the transaction of the last page.
func finishListing(ctx context.Context, tx pgx.Tx, cycleID, objectID int64, seq int, snapshot bool, r *BatchResult) error {
	if snapshot {
		tag, err := tx.Exec(ctx, `UPDATE records r SET deleted_at = now(), updated_at = now(), cycle_seq = $3
			WHERE r.object_id = $1 AND r.deleted_at IS NULL
				AND NOT EXISTS (SELECT 1 FROM resync_seen s WHERE s.cycle_id = $2 AND s.external_id = r.external_id)`, objectID, cycleID, seq)
		if err != nil {
			return err
		}
		r.Deleted += int(tag.RowsAffected())
		if _, err := tx.Exec(ctx, `DELETE FROM resync_seen WHERE cycle_id = $1`, cycleID); err != nil {
			return err
		}
	}
	if err := addCounts(ctx, tx, cycleID, r); err != nil {
		return err
	}
	// An incremental cursor never moves backwards (the overlap window may
	// hold only older records); greatest ignores NULLs.
	var cursor *time.Time
	if err := tx.QueryRow(ctx, `UPDATE sync_cycles SET cursor_after = greatest(cursor_before, retrieve_cursor)
		WHERE id = $1 RETURNING cursor_after`, cycleID).Scan(&cursor); err != nil {
		return err
	}
	if cursor == nil {
		return nil // nothing listed and nothing known: stay a full sync
	}
	_, err := tx.Exec(ctx, `UPDATE integration_objects SET cursor = $2, last_success_at = now(), updated_at = now() WHERE id = $1`, objectID, *cursor)
	r.CursorMoved = true
	return err
}

func addCounts(ctx context.Context, tx pgx.Tx, cycleID int64, r *BatchResult) error {
	_, err := tx.Exec(ctx, `UPDATE sync_cycles SET records_new = records_new + $2, records_changed = records_changed + $3,
			records_unchanged = records_unchanged + $4, records_deleted = records_deleted + $5, records_rejected = records_rejected + $6
		WHERE id = $1`, cycleID, r.New, r.Changed, r.Unchanged, r.Deleted, r.Rejected)
	return err
}

// copyFresh is the initial load's fast path: every row of a fresh cycle
// is new, so the batch is COPYed straight into records (newest version per
// id, invalid rows to rejected_records). If an id is already there — a
// record that moved during the listing and comes round again — the COPY
// is rolled back and the batch takes the ordinary upsert path (false).
func copyFresh(ctx context.Context, tx pgx.Tx, a *arrays, objectID int64, seq int, r *BatchResult) (bool, error) {
	newest := map[string]int{}
	var rejects []int
	for i, id := range a.ids {
		switch {
		case a.deleted[i]:
			return false, nil // tombstones take the ordinary path
		case a.reasons[i] != "" || id == "" || a.data[i] == nil || !isJSONObject(a.data[i]):
			rejects = append(rejects, i)
		default:
			if j, ok := newest[id]; !ok || !older(a.modified[i], a.modified[j]) {
				newest[id] = i
			}
		}
	}
	sp, err := tx.Begin(ctx)
	if err != nil {
		return false, err
	}
	rows := make([][]any, 0, len(newest))
	for i, id := range a.ids {
		if j, ok := newest[id]; ok && j == i {
			rows = append(rows, []any{objectID, id, a.data[i], a.hashes[i], a.modified[i], seq})
		}
	}
	if _, err := sp.CopyFrom(ctx, pgx.Identifier{"records"}, []string{"object_id", "external_id", "data", "hash", "modified_at", "cycle_seq"}, pgx.CopyFromRows(rows)); err != nil {
		_ = sp.Rollback(ctx)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (pgErr.Code == "23505" || strings.HasPrefix(pgErr.Code, "22")) {
			return false, nil // duplicate id or a payload jsonb refuses: the careful path handles both
		}
		return false, err
	}
	if err := sp.Commit(ctx); err != nil {
		return false, err
	}
	for _, i := range rejects {
		reason := a.reasons[i]
		switch {
		case reason != "":
		case a.ids[i] == "":
			reason = "record has no id"
		default:
			reason = "payload is not a JSON object"
		}
		payload := ""
		if a.raw[i] != nil {
			payload = *a.raw[i]
		} else if a.data[i] != nil {
			payload = string(a.data[i])
		}
		if _, err := tx.Exec(ctx, `INSERT INTO rejected_records (object_id, cycle_seq, external_id, reason, payload) VALUES ($1, $2, $3, $4, $5)`,
			objectID, seq, a.ids[i], reason, payload); err != nil {
			return false, err
		}
	}
	*r = BatchResult{Staged: len(a.ids), New: len(rows), Rejected: len(rejects)}
	return true, nil
}

// isJSONObject reports whether valid JSON text is an object.
func isJSONObject(b []byte) bool {
	t := bytes.TrimLeft(b, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}

// older reports a < b for optional times (unknown is oldest).
func older(a, b *time.Time) bool {
	switch {
	case a == nil:
		return b != nil
	case b == nil:
		return false
	}
	return a.Before(*b)
}
