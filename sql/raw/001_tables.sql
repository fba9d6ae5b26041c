-- Raw layer: canonical rows exactly as the pipelines validated them, one table per kind.
-- Keys (loading is idempotent) are enforced by delete-then-insert in pipelines/ingest/load.py,
-- not by PRIMARY KEY constraints, which cost a large in-memory index at franchise scale.

create table if not exists raw_bookings (
    -- ids
    source varchar not null,            -- the booking system ('native', 'acuity', ...)
    booking_id varchar not null,        -- unique within its source
    location_id varchar not null,
    room_id varchar,                    -- NULL: counts for the therapist, not a room
    therapist_id varchar not null,
    client_id varchar not null,         -- an opaque key or a salted hash, never PII
    client_ref varchar,                 -- the booking system's own client id or code
                                        -- (never a name, email or phone), NULL: none
    -- what
    service varchar not null,
    uses_bars boolean,                  -- NULL: derived from bar_service_keywords in staging
    status varchar not null,            -- canonical word (docs/exports.md)
    status_word varchar,                -- the word the export used
    price decimal(12, 2),
    -- timestamps (location local wall-clock)
    start_at timestamp not null,
    end_at timestamp not null,
    created_at timestamp,
    cancelled_at timestamp,
    -- lineage
    load_id bigint not null,
    line_number bigint not null
);

create table if not exists raw_rooms (
    date date not null,
    location_id varchar not null,
    room_id varchar not null,
    room_name varchar,
    has_bars boolean not null,
    opens_at time not null,
    closes_at time not null,
    blocked_minutes integer not null,
    load_id bigint not null,
    line_number bigint not null
);

create table if not exists raw_therapist_shifts (
    date date not null,
    location_id varchar not null,
    therapist_id varchar not null,
    therapist_name varchar,
    bar_trained boolean,                -- NULL: unknown (no file says), never "no"
    shift_start time not null,
    shift_end time not null,
    break_minutes integer not null,
    load_id bigint not null,
    line_number bigint not null
);

create table if not exists raw_locations (
    location_id varchar not null,
    name varchar,
    timezone varchar,
    load_id bigint not null,
    line_number bigint not null
);

-- Warehouses built before the studio profile: shifts may leave bar training unknown, and a
-- location has the day it opened (both no-ops once done).
alter table raw_therapist_shifts alter column bar_trained drop not null;
alter table raw_locations add column if not exists opened_on date;
-- Warehouses built before client references (issue 17): the column is added at the end of
-- the table; loads insert by column name, so its place does not matter.
alter table raw_bookings add column if not exists client_ref varchar;

-- The studio profile (pipelines.profile): the TOML text of each profile loaded; the latest
-- row is the profile in force.
create table if not exists studio_profile (
    loaded_at timestamp not null,
    file_name varchar not null,
    profile_toml varchar not null
);

-- The profile expanded to room-calendar and shift rows, re-made on every load for each
-- location from its first booking day to profile_days_ahead days after the load day. The
-- staging views add them to the export rows; an export row for the same room (or therapist)
-- and day wins.
create table if not exists profile_rooms (
    date date not null,
    location_id varchar not null,
    room_id varchar not null,
    room_name varchar,
    has_bars boolean not null,
    opens_at time not null,
    closes_at time not null,
    blocked_minutes integer not null,
    room_order integer not null         -- the room's place in the profile's list
);

create table if not exists profile_shifts (
    date date not null,
    location_id varchar not null,
    therapist_id varchar not null,
    therapist_name varchar,
    bar_trained boolean,                -- NULL: the profile does not say
    shift_start time not null,
    shift_end time not null,
    break_minutes integer not null
);

-- The therapists the profile lists at each location (re-made with the rows above); a
-- location that lists nobody has one row with therapist_id NULL. dq_issues reports bookings
-- with a therapist the profile does not list.
create table if not exists profile_therapists (
    location_id varchar not null,
    therapist_id varchar
);

-- Pipeline bookkeeping (README, What loading guarantees).
create sequence if not exists load_id_seq start 1;

create table if not exists load_runs (
    load_id bigint not null,
    file_name varchar not null,
    sha256 varchar not null,
    kind varchar,                       -- bookings | rooms | therapist_shifts | locations
    format varchar,                     -- native-csv, native-xlsx, acuity, ...
    rows_read bigint not null default 0,
    rows_loaded bigint not null default 0,
    rows_rejected bigint not null default 0,
    started_at timestamp not null,
    finished_at timestamp,
    outcome varchar not null,           -- loaded | skipped | failed
    message varchar
);
-- Rows that repeat an earlier row's key within their file: the last one is kept, the others
-- counted here (rows_read = rows_loaded + rows_rejected + rows_repeated). Older warehouses
-- get the column by this ALTER.
alter table load_runs add column if not exists rows_repeated bigint default 0;
-- Rows that are not bookings (Jane's Never Booked, Vagaro's Personal Off staff blocks): left
-- out and counted (rows_read = rows_loaded + rows_rejected + rows_repeated + rows_skipped);
-- `message` says what they were.
alter table load_runs add column if not exists rows_skipped bigint default 0;

create table if not exists rejected_rows (
    load_id bigint not null,
    file_name varchar not null,
    line_number bigint not null,
    reason varchar not null,
    raw_row varchar
);

-- What this warehouse is (demo or real), shown by the dashboard.
create table if not exists warehouse_info (
    key varchar not null,
    value varchar
);
