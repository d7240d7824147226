-- Page state: one row per page. `entries` maps each state key to its value's
-- JSON text (kept as a string, so values come back byte for byte); `keys` and
-- `bytes` are kept alongside so the limits are checked in O(1).
CREATE TABLE hyperstate_pages (
    page       bytea       PRIMARY KEY,
    entries    jsonb       NOT NULL,
    keys       integer     NOT NULL,
    bytes      bigint      NOT NULL,
    expires_at timestamptz NOT NULL
);
-- The sweeper deletes expired pages oldest first, in bounded batches.
CREATE INDEX hyperstate_pages_expires_at ON hyperstate_pages (expires_at);

-- Stores `p_value` under `p_key` in one atomic step: refreshes the TTL, treats
-- an expired page as empty, checks the limits and, when `p_check`, that the
-- current value is `p_expected` (NULL: absent). Returns the verdict ('ok',
-- 'conflict' with the current value, 'keys', or 'bytes' with the would-be size).
CREATE FUNCTION hyperstate_page_write(
    p_page bytea, p_key text, p_value text, p_ttl_ms bigint,
    p_max_keys integer, p_max_bytes bigint, p_check boolean, p_expected text,
    OUT verdict text, OUT detail text
) LANGUAGE plpgsql AS $$
DECLARE
    v_entries jsonb;
    v_keys integer;
    v_bytes bigint;
    v_expires timestamptz;
    v_old text;
    v_found boolean;
BEGIN
    -- The common case in one row operation: a live page, within the limits,
    -- holding the expected value.
    UPDATE hyperstate_pages p SET
        entries = p.entries || jsonb_build_object(p_key, p_value),
        keys = p.keys + (NOT p.entries ? p_key)::integer,
        bytes = p.bytes - coalesce(octet_length(p_key) + octet_length(p.entries ->> p_key), 0)
            + octet_length(p_key) + octet_length(p_value),
        expires_at = clock_timestamp() + p_ttl_ms * interval '1 millisecond'
    WHERE p.page = p_page AND p.expires_at > clock_timestamp()
        AND (NOT p_check OR (p.entries ->> p_key) IS NOT DISTINCT FROM p_expected)
        AND p.keys + (NOT p.entries ? p_key)::integer <= p_max_keys
        AND p.bytes - coalesce(octet_length(p_key) + octet_length(p.entries ->> p_key), 0)
            + octet_length(p_key) + octet_length(p_value) <= p_max_bytes;
    IF FOUND THEN
        verdict := 'ok';
        RETURN;
    END IF;
    -- Otherwise: a new or expired page, a conflict or a limit, under the row lock.
    LOOP
        SELECT entries, keys, bytes, expires_at INTO v_entries, v_keys, v_bytes, v_expires
            FROM hyperstate_pages WHERE page = p_page FOR UPDATE;
        v_found := FOUND;
        IF NOT v_found OR v_expires <= clock_timestamp() THEN
            v_entries := '{}'; v_keys := 0; v_bytes := 0;
        END IF;
        v_old := v_entries ->> p_key;
        IF p_check AND v_old IS DISTINCT FROM p_expected THEN
            verdict := 'conflict'; detail := v_old; RETURN;
        END IF;
        IF v_old IS NULL THEN
            v_keys := v_keys + 1;
        ELSE
            v_bytes := v_bytes - octet_length(p_key) - octet_length(v_old);
        END IF;
        v_bytes := v_bytes + octet_length(p_key) + octet_length(p_value);
        IF v_keys > p_max_keys THEN
            verdict := 'keys'; RETURN;
        END IF;
        IF v_bytes > p_max_bytes THEN
            verdict := 'bytes'; detail := v_bytes::text; RETURN;
        END IF;
        v_entries := v_entries || jsonb_build_object(p_key, p_value);
        v_expires := clock_timestamp() + p_ttl_ms * interval '1 millisecond';
        verdict := 'ok';
        IF v_found THEN
            UPDATE hyperstate_pages
                SET entries = v_entries, keys = v_keys, bytes = v_bytes, expires_at = v_expires
                WHERE page = p_page;
            RETURN;
        END IF;
        INSERT INTO hyperstate_pages VALUES (p_page, v_entries, v_keys, v_bytes, v_expires)
            ON CONFLICT (page) DO NOTHING;
        IF FOUND THEN
            RETURN;
        END IF;
        -- Another node created the page meanwhile: lock it and start over.
    END LOOP;
END $$;

-- Removes `p_key` from a live page and refreshes its TTL; returns whether the
-- key was there.
CREATE FUNCTION hyperstate_page_delete(p_page bytea, p_key text, p_ttl_ms bigint)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    v_old text;
BEGIN
    SELECT entries ->> p_key INTO v_old FROM hyperstate_pages
        WHERE page = p_page AND expires_at > clock_timestamp() FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE hyperstate_pages SET
        entries = CASE WHEN v_old IS NULL THEN entries ELSE entries - p_key END,
        keys = keys - (v_old IS NOT NULL)::integer,
        bytes = bytes - coalesce(octet_length(p_key) + octet_length(v_old), 0),
        expires_at = clock_timestamp() + p_ttl_ms * interval '1 millisecond'
        WHERE page = p_page;
    RETURN v_old IS NOT NULL;
END $$;
