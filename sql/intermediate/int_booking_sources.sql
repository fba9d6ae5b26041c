-- One row per booking source (an account of a booking system, or native
-- exports): whether it records when a booking was made. A source records it
-- when any of its bookings has a created_at (metric dictionary, is_rebooked); the
-- rebooking of a source that never does is unknown, never "not rebooked".
--
-- Read from raw_bookings, not the staging view: an incremental build shadows
-- that view with the changed clients' bookings, and this is a fact about every
-- booking of the source. An incremental build rebuilds this table whole and,
-- when any row moved, rebuilds every mart (pipelines.warehouse.incremental).
-- reads: raw_bookings

create or replace table int_booking_sources as

with

bookings as (
    select source, created_at from raw_bookings
),

final as (
    select
        -- ids
        source,

        -- what the source records
        bool_or(created_at is not null) as records_created_at,
    from bookings
    group by source
)

select * from final
