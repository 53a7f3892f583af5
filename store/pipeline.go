package store

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/model"
)

var (
	sqlGetRetrieveProgress = query("GetRetrieveProgress")
	sqlAsyncCommit         = query("AsyncCommit")
	sqlProcessingCycle     = query("ProcessingCycle")
	sqlLockProcessingCycle = query("LockProcessingCycle")
	sqlApplyRecords        = query("ApplyRecords")
	sqlCheckPayload        = query("CheckPayload")
	sqlInsertRejected      = query("InsertRejected")
	sqlRecordProgress      = query("RecordProgress")
	sqlAddCounts           = query("AddCounts")
	sqlDeleteUnseen        = query("DeleteUnseen")
	sqlForgetSeen          = query("ForgetSeen")
	sqlMoveCursorAfter     = query("MoveCursorAfter")
	sqlFinishEmptyListing  = query("FinishEmptyListing")
	sqlRestartAsSnapshot   = query("RestartAsSnapshot")
	sqlCycleMode           = query("CycleMode")
	sqlBatchPosition       = query("BatchPosition")
	sqlNotifyChanges       = query("NotifyChanges")
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

// progressRow is the progress columns of sync_cycles.
type progressRow struct {
	Pages   int        `db:"retrieve_pages"`
	Records int        `db:"retrieve_records"`
	Token   string     `db:"retrieve_token"`
	Cursor  *time.Time `db:"retrieve_cursor"`
	Done    bool       `db:"retrieve_done"`
	Mode    CycleMode  `db:"mode"`
}

func rowToProgress(row pgx.CollectableRow) (RetrieveProgress, error) {
	r, err := pgx.RowToStructByName[progressRow](row)
	return RetrieveProgress{Pages: r.Pages, Records: r.Records, Token: r.Token, Cursor: r.Cursor, Done: r.Done, Full: r.Mode.Full()}, err
}

// GetRetrieveProgress reads the committed progress of a cycle's Retrieve.
func (s *Store) GetRetrieveProgress(ctx context.Context, cycleID int64) (RetrieveProgress, error) {
	return one(ctx, s.Pool, sqlGetRetrieveProgress, pgx.NamedArgs{"id": cycleID}, rowToProgress)
}

// arrays holds a group of records column by column, for ApplyRecords.
type arrays struct {
	ids      []string
	modified []*time.Time
	deleted  []bool
	data     [][]byte // nil: NULL
	raw      []*string
	reasons  []string
	hashes   [][]byte
}

// toArrays checks and hashes records (see storable) into columns.
func toArrays(records []connectors.Record) *arrays {
	n := len(records)
	a := &arrays{ids: make([]string, 0, n), modified: make([]*time.Time, 0, n), deleted: make([]bool, 0, n),
		data: make([][]byte, 0, n), raw: make([]*string, 0, n), reasons: make([]string, 0, n), hashes: make([][]byte, 0, n)}
	var buf bytes.Buffer
	for _, r := range records {
		var modified *time.Time
		if !r.ModifiedAt.IsZero() {
			modified = new(r.ModifiedAt)
		}
		data, raw, reason, hash := storable(r, &buf)
		id, idReason := storableID(r.ExternalID)
		if reason == "" {
			reason = idReason
		}
		a.ids, a.modified, a.deleted = append(a.ids, id), append(a.modified, modified), append(a.deleted, r.Deleted)
		a.data, a.raw, a.reasons, a.hashes = append(a.data, data), append(a.raw, raw), append(a.reasons, reason), append(a.hashes, hash)
	}
	return a
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

// storable decides whether a payload can be stored as jsonb. Anything
// PostgreSQL is known to refuse is kept as raw text with a reason instead,
// and ends in rejected_records.
//
// It also returns the content hash that decides "changed or not": md5 of
// the payload with insignificant whitespace removed (one pass both
// validates and compacts). Key order counts: providers send a stable
// order (the Salesforce connector sorts keys), and hashing here instead
// of canonicalising jsonb in SQL keeps a full sync near COPY speed.
func storable(r connectors.Record, buf *bytes.Buffer) (data []byte, raw *string, reason string, hash []byte) {
	if r.Deleted {
		// A tombstone's payload is not stored; only its id and time matter.
		return []byte("{}"), nil, "", nil
	}
	if !utf8.Valid(r.Data) {
		return nil, new(cleanText(string(r.Data))), "payload is not valid UTF-8", nil
	}
	buf.Reset()
	if json.Compact(buf, r.Data) != nil {
		return nil, new(cleanText(string(r.Data))), "payload is not valid JSON", nil
	}
	if bytes.Contains(r.Data, []byte(`\u0000`)) {
		return nil, new(cleanText(string(r.Data))), "payload contains a NUL character, which PostgreSQL jsonb cannot store", nil
	}
	sum := md5.Sum(buf.Bytes())
	return []byte(r.Data), nil, "", sum[:]
}

// storableID keeps ids exact: cleaning an invalid id could merge two
// distinct records into one, so such a record is rejected instead (with a
// readable form of its id).
func storableID(id string) (string, string) {
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

// BatchResult is what one group of pages did to records; its counts are
// those of model.Counts, and add up the same way.
type BatchResult struct {
	// Records is how many records the pages held.
	Records           int `json:"records"`
	Rejected          int `json:"rejected"`
	New               int `json:"new"`
	Changed           int `json:"changed"`
	Unchanged         int `json:"unchanged"`
	Deleted           int `json:"deleted"`
	TombstonesUnknown int `json:"tombstones_unknown"`
	DeletedUnlisted   int `json:"deleted_unlisted"`
	// CursorMoved is true when this group completed the listing and moved
	// the object's cursor.
	CursorMoved bool `json:"cursor_moved"`
}

// RestartAsSnapshot turns a cycle's Retrieve into a full listing from the
// first page (the provider can no longer say what changed since the
// cursor): the progress is reset and the cycle becomes a snapshot, so
// records the listing does not see are deleted once it completes.
func (s *Store) RestartAsSnapshot(ctx context.Context, cycleID int64) error {
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		n, err := exec(ctx, tx, sqlRestartAsSnapshot, pgx.NamedArgs{
			"id": cycleID, "full_snapshot": string(ModeFullSnapshot), "processing": string(model.StatusProcessing),
		})
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("cycle %d is no longer Processing", cycleID)
		}
		_, err = exec(ctx, tx, sqlForgetSeen, pgx.NamedArgs{"cycle_id": cycleID})
		return err
	})
}

// IsSnapshot reports whether a cycle lists the whole object over existing
// records (its Retrieve must then not use the cursor).
func (s *Store) IsSnapshot(ctx context.Context, cycleID int64) (bool, error) {
	mode, err := one(ctx, s.Pool, sqlCycleMode, pgx.NamedArgs{"id": cycleID}, pgx.RowTo[CycleMode])
	return mode == ModeFullSnapshot, err
}

// applyCounts is what ApplyRecords returns.
type applyCounts struct {
	Records           int `db:"records"`
	Rejected          int `db:"rejected"`
	New               int `db:"new"`
	Changed           int `db:"changed"`
	Deleted           int `db:"deleted"`
	TombstonesUnknown int `db:"tombstones_unknown"`
}

// applyArrays runs ApplyRecords. If PostgreSQL refuses a payload the
// checks in storable could not foresee (a lone surrogate escape, a number
// out of jsonb's range), the refused rows are found one by one and turned
// into rejections, and the group is applied again: one bad record must
// never block its page, or every retry fails the same way and the object
// stops syncing.
func applyArrays(ctx context.Context, tx pgx.Tx, a *arrays, cycleID, objectID int64, seq int, snapshot bool, r *BatchResult) error {
	args := pgx.NamedArgs{"cycle_id": cycleID, "object_id": objectID, "seq": seq, "snapshot": snapshot,
		"external_ids": a.ids, "modified_at": a.modified, "deleted": a.deleted, "data": a.data, "raw": a.raw,
		"reject_reasons": a.reasons, "hashes": a.hashes}
	run := func() error {
		return pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
			c, err := one(ctx, sp, sqlApplyRecords, args, pgx.RowToStructByName[applyCounts])
			if err != nil {
				return err
			}
			// The rest wrote nothing: equal hashes, versions older than the
			// stored row (live or tombstone), copies superseded by a newer
			// one in the group.
			*r = BatchResult{Records: c.Records, Rejected: c.Rejected, New: c.New, Changed: c.Changed, Deleted: c.Deleted,
				TombstonesUnknown: c.TombstonesUnknown,
				Unchanged:         c.Records - c.Rejected - c.New - c.Changed - c.Deleted - c.TombstonesUnknown}
			return nil
		})
	}
	err := run()
	if err == nil || !isDataError(err) {
		return err
	}
	for i, d := range a.data {
		if d == nil {
			continue
		}
		err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
			_, err := one(ctx, sp, sqlCheckPayload, pgx.NamedArgs{"payload": string(d)}, pgx.RowTo[bool])
			return err
		})
		if err == nil {
			continue
		}
		if !isDataError(err) {
			return err
		}
		a.data[i], a.raw[i], a.hashes[i] = nil, new(cleanText(string(d))), nil
		a.reasons[i] = "PostgreSQL refused the payload: " + pgMessage(err)
	}
	return run()
}

// ApplyResult is what ApplyPage did.
type ApplyResult struct {
	Progress RetrieveProgress `json:"progress"`
	Batch    BatchResult      `json:"batch"`
}

// ApplyPage applies one retrieved page in one transaction: the page is
// applied to records and the retrieve progress (next page token, page
// cursor) is recorded with it — so a retry resumes after the last applied
// page and nothing is applied twice. The last page of a complete listing
// also applies a snapshot's deletions and moves the object's cursor, in
// the same transaction.
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
	var cursor *time.Time
	var records []connectors.Record
	for _, p := range pages {
		records = append(records, p.Records...)
		if !p.Cursor.IsZero() {
			cursor = new(p.Cursor)
		}
	}
	processing := string(model.StatusProcessing)
	if len(records) == 0 && last.NextPageToken == "" {
		// A quiet cycle's one empty page: one statement, after the
		// previous group (if any) committed.
		if inOrder != nil {
			if err := inOrder(); err != nil {
				return ApplyResult{}, err
			}
			inOrder = nil
		}
		r, err := one(ctx, s.Pool, sqlFinishEmptyListing, pgx.NamedArgs{"id": cycleID, "processing": processing,
			"incremental": string(ModeIncremental), "expect_pages": expectPages, "pages": len(pages), "cursor": cursor},
			pgx.RowToStructByName[struct {
				progressRow
				CursorMoved bool `db:"cursor_moved"`
			}])
		if err == nil {
			out.Progress = RetrieveProgress{Pages: r.Pages, Records: r.Records, Token: r.Token, Cursor: r.Cursor, Done: r.Done, Full: r.Mode.Full()}
			out.Batch.CursorMoved = r.CursorMoved
			return out, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return ApplyResult{}, fmt.Errorf("apply pages %d-%d of cycle %d: %w", expectPages+1, expectPages+len(pages), cycleID, err)
		}
		// Not an open incremental cycle at this page: the transaction
		// below handles it (a full listing) or says what is wrong.
	}
	cols := toArrays(records)
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if _, err := exec(ctx, tx, sqlAsyncCommit, nil); err != nil {
			return err
		}
		closed := func(err error) error {
			if errors.Is(err, ErrNotFound) {
				return fmt.Errorf("cycle %d is not Processing any more (closed by a restart or finished): not applying its pages", cycleID)
			}
			return err
		}
		cy, err := one(ctx, tx, sqlProcessingCycle, pgx.NamedArgs{"id": cycleID, "processing": processing}, pgx.RowToStructByName[struct {
			ObjectID int64     `db:"object_id"`
			Object   string    `db:"object"`
			Seq      int       `db:"seq"`
			Mode     CycleMode `db:"mode"`
		}])
		if err != nil {
			return closed(err)
		}
		snapshot := cy.Mode == ModeFullSnapshot
		r := &out.Batch
		copied := false
		if cy.Mode == ModeFullFresh {
			if copied, err = copyFresh(ctx, tx, cols, cy.ObjectID, cy.Seq, r); err != nil {
				return err
			}
		}
		if !copied && len(records) > 0 {
			if err := applyArrays(ctx, tx, cols, cycleID, cy.ObjectID, cy.Seq, snapshot, r); err != nil {
				return err
			}
		}
		if inOrder != nil {
			if err := inOrder(); err != nil {
				return err
			}
		}
		// Lock the cycle row only now, so concurrent batches do not queue
		// behind each other while writing records.
		if _, err := one(ctx, tx, sqlLockProcessingCycle, pgx.NamedArgs{"id": cycleID, "processing": processing}, pgx.RowTo[int64]); err != nil {
			return closed(err)
		}
		out.Progress, err = one(ctx, tx, sqlRecordProgress, pgx.NamedArgs{
			"id": cycleID, "expect_pages": expectPages, "pages": len(pages), "records": len(records),
			"token": last.NextPageToken, "cursor": cursor, "done": last.NextPageToken == "",
		}, rowToProgress)
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("cycle %d moved on (another attempt applied page %d)", cycleID, expectPages+1)
		}
		if err != nil {
			return err
		}
		if out.Progress.Done {
			err = finishListing(ctx, tx, cycleID, cy.ObjectID, cy.Seq, snapshot, r)
		} else {
			err = addCounts(ctx, tx, cycleID, r)
		}
		if err != nil {
			return err
		}
		return notifyChanges(ctx, tx, cy.ObjectID, cy.Object, cy.Seq, r)
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
		n, err := exec(ctx, tx, sqlDeleteUnseen, pgx.NamedArgs{"cycle_id": cycleID, "object_id": objectID, "seq": seq})
		if err != nil {
			return err
		}
		r.Deleted += int(n)
		r.DeletedUnlisted += int(n)
		if _, err := exec(ctx, tx, sqlForgetSeen, pgx.NamedArgs{"cycle_id": cycleID}); err != nil {
			return err
		}
	}
	if err := addCounts(ctx, tx, cycleID, r); err != nil {
		return err
	}
	_, err := one(ctx, tx, sqlMoveCursorAfter, pgx.NamedArgs{"id": cycleID, "object_id": objectID}, pgx.RowTo[*time.Time])
	switch {
	case errors.Is(err, ErrNotFound):
		return nil // nothing listed and nothing known: stay a full sync
	case err != nil:
		return err
	}
	r.CursorMoved = true
	return nil
}

func addCounts(ctx context.Context, tx pgx.Tx, cycleID int64, r *BatchResult) error {
	if *r == (BatchResult{CursorMoved: r.CursorMoved}) {
		return nil // nothing to add (a quiet cycle's empty page)
	}
	_, err := exec(ctx, tx, sqlAddCounts, pgx.NamedArgs{"id": cycleID, "new": r.New, "changed": r.Changed,
		"unchanged": r.Unchanged, "deleted": r.Deleted, "rejected": r.Rejected,
		"tombstones_unknown": r.TombstonesUnknown, "deleted_unlisted": r.DeletedUnlisted})
	return err
}

// ChangesChannel is the channel of the change notifications: LISTEN
// syncloop_changes.
const ChangesChannel = "syncloop_changes"

// ChangeNotification is the JSON payload of a NOTIFY syncloop_changes,
// sent by every transaction of a batch of pages that changed at least one
// record (new, changed or deleted), and delivered when it commits.
//
// It is a wake-up call: read the object's feed from your own cursor.
// Cursor is the feed position of the batch's last change, for information
// only (the CLI compares it with its cursor to know whether it has read
// the batch yet); do not resume from it: the feed hands out a transaction's
// changes only once every older transaction has finished, and a reader
// that jumped to this position could skip the changes of a transaction
// still in flight. It is empty in the rare case that the payload would be
// too long for NOTIFY (an external id of kilobytes).
type ChangeNotification struct {
	Object string `json:"object"`
	Cycle  int    `json:"cycle"`
	Cursor string `json:"cursor"`
}

// maxNotifyPayload keeps payloads under PostgreSQL's 8000-byte limit.
const maxNotifyPayload = 7900

// notifyChanges sends the batch's ChangeNotification if it changed a
// record, in its transaction.
func notifyChanges(ctx context.Context, tx pgx.Tx, objectID int64, object string, seq int, r *BatchResult) error {
	if r.New+r.Changed+r.Deleted == 0 {
		return nil
	}
	pos, err := one(ctx, tx, sqlBatchPosition, pgx.NamedArgs{"object_id": objectID}, pgx.RowToStructByName[struct {
		XID        uint64  `db:"xid"`
		ExternalID *string `db:"external_id"`
	}])
	if err != nil || pos.ExternalID == nil {
		return err
	}
	n := ChangeNotification{Object: object, Cycle: seq,
		Cursor: model.FeedCursor{ObjectID: objectID, FeedPosition: model.FeedPosition{XID: pos.XID, ExternalID: *pos.ExternalID}}.Encode()}
	payload, err := json.Marshal(n)
	if err == nil && len(payload) > maxNotifyPayload {
		n.Cursor = ""
		payload, err = json.Marshal(n)
	}
	if err != nil {
		return err
	}
	_, err = exec(ctx, tx, sqlNotifyChanges, pgx.NamedArgs{"payload": string(payload)})
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
	rows := make([][]any, 0, len(newest))
	for i, id := range a.ids {
		if j, ok := newest[id]; ok && j == i {
			rows = append(rows, []any{objectID, id, a.data[i], a.hashes[i], a.modified[i], seq})
		}
	}
	err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
		_, err := sp.CopyFrom(ctx, pgx.Identifier{"records"}, []string{"object_id", "external_id", "data", "hash", "modified_at", "cycle_seq"}, pgx.CopyFromRows(rows))
		return dbError(err)
	})
	if errors.Is(err, ErrExists) || isDataError(err) {
		return false, nil // duplicate id or a payload jsonb refuses: the careful path handles both
	}
	if err != nil {
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
		if _, err := exec(ctx, tx, sqlInsertRejected, pgx.NamedArgs{"object_id": objectID, "seq": seq,
			"external_id": a.ids[i], "reason": reason, "payload": payload}); err != nil {
			return false, err
		}
	}
	// Older copies of an id that the batch holds twice wrote nothing.
	*r = BatchResult{Records: len(a.ids), New: len(rows), Rejected: len(rejects), Unchanged: len(a.ids) - len(rows) - len(rejects)}
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
