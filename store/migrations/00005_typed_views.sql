-- +goose Up
-- Casts for the typed views of schema syncloop_views (store/typedviews.go).
-- A value that does not cast (a provider sending "n/a" in a number field)
-- is NULL in the view; the raw value stays in records.data. PostgreSQL 15
-- has no pg_input_is_valid, hence the exception blocks.

-- +goose StatementBegin
CREATE FUNCTION view_numeric(v jsonb) RETURNS numeric LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF v IS NULL OR jsonb_typeof(v) NOT IN ('number', 'string') THEN RETURN NULL; END IF;
    RETURN (v #>> '{}')::numeric;
EXCEPTION WHEN others THEN RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION view_bigint(v jsonb) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF v IS NULL OR jsonb_typeof(v) NOT IN ('number', 'string') THEN RETURN NULL; END IF;
    RETURN (v #>> '{}')::numeric::bigint;
EXCEPTION WHEN others THEN RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION view_boolean(v jsonb) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF v IS NULL OR jsonb_typeof(v) NOT IN ('boolean', 'string') THEN RETURN NULL; END IF;
    RETURN (v #>> '{}')::boolean; -- HubSpot sends "true"/"false"
EXCEPTION WHEN others THEN RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION view_date(v jsonb) RETURNS date LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF v IS NULL OR jsonb_typeof(v) <> 'string' THEN RETURN NULL; END IF;
    -- Dates only (YYYY-MM-DD, or the date of an ISO 8601 timestamp):
    -- nothing that depends on DateStyle.
    IF v #>> '{}' !~ '^\d{4}-\d{2}-\d{2}' THEN RETURN NULL; END IF;
    RETURN left(v #>> '{}', 10)::date;
EXCEPTION WHEN others THEN RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION view_timestamptz(v jsonb) RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
DECLARE s text;
BEGIN
    IF v IS NULL OR jsonb_typeof(v) NOT IN ('number', 'string') THEN RETURN NULL; END IF;
    s := v #>> '{}';
    IF s ~ '^\d{10,14}$' THEN
        RETURN to_timestamp(s::numeric / 1000); -- epoch milliseconds (HubSpot)
    END IF;
    -- ISO 8601 only: 2024-05-01T10:00:00.000+0000 (Salesforce), …Z.
    IF s !~ '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}' THEN RETURN NULL; END IF;
    RETURN s::timestamptz;
EXCEPTION WHEN others THEN RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION view_numeric(jsonb);
DROP FUNCTION view_bigint(jsonb);
DROP FUNCTION view_boolean(jsonb);
DROP FUNCTION view_date(jsonb);
DROP FUNCTION view_timestamptz(jsonb);
