"""The daily digest's own query (`studio-ops digest`): where each location's bookings end.

Everything else the digest shows comes from the pages' queries (kpis, today, ahead), so its
numbers are the dashboard's.
"""

from __future__ import annotations

import pandas as pd

from dashboard.queries.snapshot import Locations, query, scope


def bookings_run(locations: Locations) -> pd.DataFrame:
    """Per location: location_id, location_name, and first_day / last_day, the first and last
    day with a booking that happened (completed or no-show, the rule rpt_as_of uses for the
    whole warehouse), so a digest for a day past them can say where the data ends."""
    return query(
        """
        select
            l.location_id,
            l.display_name as location_name,
            min(b.booking_date) as first_day,
            max(b.booking_date) as last_day
        from dim_locations as l
        left join fct_bookings as b
            on b.location_id = l.location_id and b.status in ('completed', 'no_show')
        where list_contains(?, l.location_id)
        group by l.location_id, l.display_name
        order by location_name, l.location_id
        """,
        scope(locations),
    )
