-- rpt_cohort_activity agrees with the cohorts: each cohort's months_after 0
-- cell is its size (rpt_retention new_clients: the same clients by first-visit
-- month and location), and every later cell counts between 1 and that many
-- clients. An incremental build adjusts the table rather than rebuilding it;
-- one that drifted fails here. Returns the offending cohorts and cells.

with

activity as (
    select * from rpt_cohort_activity
),

retention as (
    select * from rpt_retention
),

sizes as (
    select
        cohort_month,
        location_id,
        active_clients as cohort_clients,
    from activity
    where months_after = 0
),

bad_sizes as (
    select
        cohort_month,
        location_id,
        'size ' || coalesce(cast(sizes.cohort_clients as varchar), 'missing')
        || ', new clients '
        || coalesce(cast(retention.new_clients as varchar), 'missing') as offending,
    from sizes
    full join retention using (cohort_month, location_id)
    where sizes.cohort_clients is distinct from retention.new_clients
),

bad_cells as (
    select
        activity.cohort_month,
        activity.location_id,
        'months_after ' || activity.months_after || ': '
        || activity.active_clients || ' active' as offending,
    from activity
    left join sizes
        on
            activity.cohort_month = sizes.cohort_month
            and activity.location_id = sizes.location_id
    where
        activity.months_after < 0
        or activity.active_clients < 1
        or activity.active_clients > sizes.cohort_clients
        or sizes.cohort_clients is null
),

final as (
    select * from bad_sizes
    union all
    select * from bad_cells
)

select * from final
