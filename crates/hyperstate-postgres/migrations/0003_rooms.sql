-- Room state. A room is live while its row exists and `expires_at` is ahead;
-- an expired row is treated as absent and replaced when the room starts again.
-- `state` maps each key to its value's JSON text. Diffs fan out with NOTIFY on
-- channel `hyperstate_rooms`; the last few are kept in `hyperstate_room_diffs`
-- for clients that resume and for diffs too large for a NOTIFY payload.
CREATE TABLE hyperstate_rooms (
    room                 text        PRIMARY KEY,
    version              bigint      NOT NULL,
    member_rights        smallint    NOT NULL,
    public_rights        smallint    NOT NULL,
    idle_ttl_ms          bigint      NOT NULL,
    unused_member_ttl_ms bigint      NOT NULL,
    state                jsonb       NOT NULL,
    keys                 integer     NOT NULL,
    bytes                bigint      NOT NULL,
    presence_seq         bigint      NOT NULL DEFAULT 0,
    expires_at           timestamptz NOT NULL
);
CREATE INDEX hyperstate_rooms_expires_at ON hyperstate_rooms (expires_at);

-- Members; `joined_at` is set until the member first attaches or writes (an
-- unused slot expires), NULL after.
CREATE TABLE hyperstate_room_members (
    room      text        NOT NULL REFERENCES hyperstate_rooms ON DELETE CASCADE,
    member    bytea       NOT NULL,
    joined_at timestamptz,
    PRIMARY KEY (room, member)
);

CREATE TABLE hyperstate_room_diffs (
    room    text   NOT NULL REFERENCES hyperstate_rooms ON DELETE CASCADE,
    version bigint NOT NULL,
    diff    text   NOT NULL,
    PRIMARY KEY (room, version)
);

-- Clients attached per node. A node refreshes `lease_until` for its rooms
-- while it runs, so the counts of a node that died stop counting.
CREATE TABLE hyperstate_room_attached (
    room        text        NOT NULL REFERENCES hyperstate_rooms ON DELETE CASCADE,
    node        text        NOT NULL,
    count       integer     NOT NULL,
    lease_until timestamptz NOT NULL,
    PRIMARY KEY (room, node)
);
