"""Altair chart builders: pure functions from a small aggregated DataFrame to a chart.

No queries here and no Streamlit calls; pages pass in what dashboard.queries returned.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
BOOKING_KINDS = ["Bar session", "Other treatment", "No-show"]
BOOKING_COLORS = ["#7b3fa0", "#4c9be8", "#c7c7c7"]
RESOURCES = ["Bar rooms", "All rooms", "Therapists on shift"]
RESOURCE_COLORS = ["#7b3fa0", "#4c9be8", "#e8894c"]
OVER_LIMIT = "#d62728"
# One colour per location (Tableau 10 without its red and pink): Streamlit's default palette
# draws the third location red, which reads as the over-limit red, an alarm.
LOCATION_COLORS = [
    "#4c78a8", "#f58518", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#9d755d", "#bab0ac"
]  # fmt: skip
# Rows a chart with one row per therapist, room or location shows. A chain of hundreds of
# studios would otherwise draw charts tens of thousands of pixels tall, slow to draw and
# unreadable; the table under each chart keeps every row.
CHART_ROWS = 40
# Lines a trend chart draws, one per location; beyond this the page draws one for all of them.
TREND_LINES = 8
# Small charts side by side, one per location.
SMALL_MULTIPLES = 12
# Bottleneck maps (one per location, each a weekday-by-hour grid) drawn at most.
BOTTLENECK_MAPS = 6


def _location_color(field: str, title: str | None) -> alt.Color:
    """A colour per location (LOCATION_COLORS), legend on top."""
    return alt.Color(
        f"{field}:N",
        title=title,
        legend=alt.Legend(orient="top"),
        scale=alt.Scale(range=LOCATION_COLORS),
    )


def ends(
    frame: pd.DataFrame,
    value: str,
    rows: int = CHART_ROWS,
    words: tuple[str, str] = ("highest", "lowest"),
    table: bool = True,
) -> tuple[pd.DataFrame, str]:
    """The rows with the highest and lowest `value` when there are more than `rows`, and a note
    saying what is left out ('' when nothing is; `words` name the two ends, `table` says a
    table lists every row). Rows without a value are left out then."""
    if len(frame) <= rows:
        return frame, ""
    ordered = frame.dropna(subset=[value]).sort_values(value, ascending=False)
    high, low = rows // 2, rows - rows // 2
    shown = ordered if len(ordered) <= rows else pd.concat([ordered.head(high), ordered.tail(low)])
    note = f"Showing the {high} {words[0]} and {low} {words[1]} of {len(frame):,}"
    note += "; the table lists all. " if table else ". "
    return shown, note + "Pick locations in the sidebar to narrow the chart."


def most(
    frame: pd.DataFrame, key: str, value: str, rows: int = CHART_ROWS
) -> tuple[pd.DataFrame, str]:
    """All rows of the `rows` keys (e.g. therapists) with the highest `value` in any row, and a
    note saying what is left out ('' when nothing is)."""
    peaks = frame.groupby(key)[value].max()
    if len(peaks) <= rows:
        return frame, ""
    keep = peaks.sort_values(ascending=False).head(rows).index
    note = (
        f"Showing the {rows} of {len(peaks):,} with the highest figures; "
        "pick locations in the sidebar to see the others."
    )
    return frame[frame[key].isin(keep)], note


def _rate(field: str, title: str, **kwargs) -> alt.Y:
    return alt.Y(f"{field}:Q", title=title, axis=alt.Axis(format="%"), **kwargs)


def _room_label(room: str, has_bars: bool) -> str:
    """The room name, with "(bars)" added for a bar room whose name does not say so."""
    return f"{room} (bars)" if has_bars and "bar" not in room.lower() else room


def room_timeline(bookings: pd.DataFrame, rooms: list[tuple[str, bool]]) -> alt.Chart:
    """The day's bookings as bars per room (rooms with ceiling bars marked "(bars)")."""
    labels = [_room_label(room, has_bars) for room, has_bars in rooms]
    frame = bookings.assign(
        room_label=[
            _room_label(room, has_bars)
            for room, has_bars in zip(bookings["room"], bookings["room_has_bars"], strict=True)
        ]
    )
    extra = [x for x in frame["room_label"].unique() if x not in labels]
    return (
        alt.Chart(frame)
        .mark_bar(cornerRadius=3)
        .encode(
            x=alt.X("start_at:T", title="Time of day", axis=alt.Axis(format="%H:%M")),
            x2="end_at:T",
            y=alt.Y(
                "room_label:N",
                title=None,
                sort=labels + extra,
                scale=alt.Scale(domain=labels + extra, paddingInner=0.25),
                axis=alt.Axis(labelLimit=220),
            ),
            color=alt.Color(
                "booking_kind:N",
                title="Booking",
                scale=alt.Scale(domain=BOOKING_KINDS, range=BOOKING_COLORS),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("room_label:N", title="Room"),
                alt.Tooltip("service:N", title="Service"),
                alt.Tooltip("therapist:N", title="Therapist"),
                alt.Tooltip("start_at:T", title="Starts", format="%H:%M"),
                alt.Tooltip("end_at:T", title="Ends", format="%H:%M"),
                alt.Tooltip("booking_kind:N", title="Booking"),
            ],
        )
        .properties(height=alt.Step(44))
    )


def pacing(days: pd.DataFrame) -> alt.Chart:
    """Booked share of room capacity per upcoming day, with the percentage on each bar."""
    frame = days.assign(day_label=pd.to_datetime(days["date"]).dt.strftime("%a %d %b"))
    order = list(frame["day_label"])
    base = alt.Chart(frame).encode(
        x=alt.X("day_label:N", title=None, sort=order, axis=alt.Axis(labelAngle=0)),
        y=_rate("booked_share", "Booked", scale=alt.Scale(domain=[0, 1])),
        tooltip=[
            alt.Tooltip("day_label:N", title="Day"),
            alt.Tooltip("booked_share:Q", title="Booked", format=".0%"),
            alt.Tooltip("booked_hours:Q", title="Room hours booked", format=",.1f"),
            alt.Tooltip("available_hours:Q", title="Room hours open", format=",.1f"),
        ],
    )
    bars = base.mark_bar(color="#4c9be8", cornerRadiusTopLeft=3, cornerRadiusTopRight=3)
    text = base.mark_text(dy=-8, fontSize=12).encode(text=alt.Text("booked_share:Q", format=".0%"))
    return (bars + text).properties(height=260)


def trend(frame: pd.DataFrame, value: str, title: str, kind: str = "rate") -> alt.Chart:
    """One line per location over time (period on x)."""
    axis = alt.Axis(format="%") if kind == "rate" else alt.Axis(format=",.0f")
    fmt = ".1%" if kind == "rate" else ",.2f"
    return (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("period:T", title=None, axis=alt.Axis(format="%d %b")),
            y=alt.Y(f"{value}:Q", title=title, axis=axis),
            color=_location_color("location_name", "Location"),
            tooltip=[
                alt.Tooltip("location_name:N", title="Location"),
                alt.Tooltip("period:T", title="From"),
                alt.Tooltip(f"{value}:Q", title=title, format=fmt),
            ],
        )
        .properties(height=280)
    )


# clock hours written level (8, 9, … 20), not turned sideways
HOUR_AXIS = alt.Axis(labelAngle=0)


def weekday_hour_heatmap(
    frame: pd.DataFrame, value: str, title: str, kind: str = "rate", scheme: str = "blues"
) -> alt.Chart:
    """Weekday × clock-hour grid coloured by `value`, the value printed in each cell."""
    fmt = ".0%" if kind == "rate" else ",.0f"
    base = alt.Chart(frame).encode(
        x=alt.X("hour:O", title="Hour of day", axis=HOUR_AXIS),
        y=alt.Y("weekday:N", title=None, sort=WEEKDAYS),
    )
    domain = [0, 1] if kind == "rate" else alt.Undefined
    cells = base.mark_rect().encode(
        color=alt.Color(
            f"{value}:Q",
            title=title,
            scale=alt.Scale(scheme=scheme, domain=domain),
            legend=alt.Legend(format=fmt),
        ),
        tooltip=[
            alt.Tooltip("weekday:N", title="Day"),
            alt.Tooltip("hour:O", title="Hour"),
            alt.Tooltip(f"{value}:Q", title=title, format=fmt),
        ],
    )
    text = base.mark_text(fontSize=11).encode(
        text=alt.Text(f"{value}:Q", format=fmt),
        color=alt.condition(
            f"datum.{value} > {0.6 if kind == 'rate' else 'null'}",
            alt.value("white"),
            alt.value("#333"),
        ),
    )
    return (cells + text).properties(height=260)


def ranked_bars(
    frame: pd.DataFrame,
    category: str,
    value: str,
    title: str,
    kind: str = "rate",
    symbol: str = "$",
    color: str | None = None,
) -> alt.Chart:
    """Horizontal bars, largest first, the value written at the end of each bar."""
    fmt = {"rate": ".0%", "money": ",.2f", "hours": ",.1f"}.get(kind, ",.0f")
    axis = alt.Axis(format="%") if kind == "rate" else alt.Axis(format=",.0f")
    order = list(frame.sort_values(value, ascending=False)[category])
    base = alt.Chart(frame).encode(
        y=alt.Y(f"{category}:N", title=None, sort=order, axis=alt.Axis(labelLimit=320)),
        x=alt.X(f"{value}:Q", title=title, axis=axis),
        tooltip=[
            alt.Tooltip(f"{category}:N"),
            alt.Tooltip(f"{value}:Q", title=title, format=fmt),
        ],
    )
    color_encoding = _location_color(color, None) if color else alt.value("#4c9be8")
    bars = base.mark_bar(cornerRadiusEnd=3).encode(color=color_encoding)
    prefix = symbol if kind == "money" else ""
    text = base.mark_text(align="left", dx=4, fontSize=12).encode(
        text=alt.Text(f"{value}:Q", format=fmt) if not prefix else alt.Text("label:N")
    )
    if prefix:
        text = text.transform_calculate(label=f"'{prefix}' + format(datum.{value}, '{fmt}')")
    return (bars + text).properties(height=alt.Step(28))


def bottleneck_map(frame: pd.DataFrame) -> alt.Chart:
    """Weekday × hour: colour = the resource that runs out first, shade = how full it is."""
    return (
        alt.Chart(frame)
        .mark_rect()
        .encode(
            x=alt.X("hour:O", title="Hour of day", axis=HOUR_AXIS),
            y=alt.Y("weekday:N", title=None, sort=WEEKDAYS),
            color=alt.Color(
                "runs_out_first:N",
                title="Runs out first",
                scale=alt.Scale(domain=RESOURCES, range=RESOURCE_COLORS),
                legend=alt.Legend(orient="top"),
            ),
            opacity=alt.Opacity(
                "tightest_utilization:Q",
                title="How full",
                scale=alt.Scale(domain=[0, 1], range=[0.15, 1]),
                legend=None,
            ),
            tooltip=[
                alt.Tooltip("weekday:N", title="Day"),
                alt.Tooltip("hour:O", title="Hour"),
                alt.Tooltip("runs_out_first:N", title="Runs out first"),
                alt.Tooltip("bar_room_utilization:Q", title="Bar rooms", format=".0%"),
                alt.Tooltip("room_utilization:Q", title="All rooms", format=".0%"),
                alt.Tooltip("therapist_utilization:Q", title="Therapists", format=".0%"),
                alt.Tooltip("extra_bar_room_hours:Q", title="Extra bar room: h", format=",.1f"),
                alt.Tooltip("extra_bar_shift_hours:Q", title="Extra shift: h", format=",.1f"),
            ],
        )
        .properties(height=alt.Step(26))
    )


def room_time_split(rooms: pd.DataFrame) -> alt.Chart:
    """Per bar room: hours of bar work, other work and empty time, stacked."""
    frame = rooms.assign(
        room_label=rooms["location_name"] + " · " + rooms["room"],
        empty_hours=(rooms["available_hours"] - rooms["occupied_hours"]).clip(lower=0),
        other_hours=rooms["occupied_hours"] - rooms["bar_hours"],
    )
    parts = {"bar_hours": "Bar work", "other_hours": "Other work", "empty_hours": "Empty"}
    long = frame.melt(
        id_vars=["room_label"], value_vars=list(parts), var_name="part", value_name="hours"
    ).assign(part=lambda f: f["part"].map(parts))
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            y=alt.Y("room_label:N", title=None, axis=alt.Axis(labelLimit=320)),
            x=alt.X(
                "hours:Q", title="Share of open hours", stack="normalize", axis=alt.Axis(format="%")
            ),
            color=alt.Color(
                "part:N",
                title=None,
                scale=alt.Scale(
                    domain=list(parts.values()), range=["#7b3fa0", "#4c9be8", "#e6e6e6"]
                ),
                legend=alt.Legend(orient="top"),
            ),
            order=alt.Order("part_order:Q"),
            tooltip=[
                alt.Tooltip("room_label:N", title="Room"),
                alt.Tooltip("part:N", title="Time"),
                alt.Tooltip("hours:Q", title="Hours", format=",.1f"),
            ],
        )
        .transform_calculate(part_order="indexof(['Bar work', 'Other work', 'Empty'], datum.part)")
        .properties(height=alt.Step(32))
    )


def therapist_week_grid(
    frame: pd.DataFrame, value: str, title: str, limit: float, fmt: str = ",.0f"
) -> alt.Chart:
    """Therapist × week grid shaded by `value` up to `limit`; cells above `limit` in red."""
    base = alt.Chart(frame).encode(
        x=alt.X("week:O", title="Week of", timeUnit="yearmonthdate", axis=alt.Axis(format="%d %b")),
        y=alt.Y("therapist:N", title=None, axis=alt.Axis(labelLimit=320)),
    )
    over = f"datum.{value} > {limit}"
    cells = base.mark_rect(stroke="white", strokeWidth=1).encode(
        color=alt.condition(
            over,
            alt.value(OVER_LIMIT),
            alt.Color(
                f"{value}:Q",
                title=title,
                scale=alt.Scale(scheme="blues", domain=[0, limit]),
            ),
        ),
        tooltip=[
            alt.Tooltip("therapist:N", title="Therapist"),
            alt.Tooltip("week:T", title="Week of"),
            alt.Tooltip(f"{value}:Q", title=title, format=fmt),
        ],
    )
    text = base.mark_text(fontSize=10).encode(
        text=alt.Text(f"{value}:Q", format=fmt),
        color=alt.condition(
            f"{over} || datum.{value} > {0.6 * limit}", alt.value("white"), alt.value("#333")
        ),
    )
    return (cells + text).properties(height=alt.Step(22))


def cohort_heatmap(frame: pd.DataFrame) -> alt.Chart:
    """First-visit month × months after (1, 2, …): share of the cohort visiting that month."""
    data = frame.assign(cohort=pd.to_datetime(frame["cohort_month"]).dt.strftime("%Y-%m"))
    base = alt.Chart(data).encode(
        x=alt.X(
            "months_after:O", title="Months after the first visit", axis=alt.Axis(labelAngle=0)
        ),
        y=alt.Y("cohort:O", title="First-visit month"),
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            "active_share:Q",
            title="Clients visiting",
            scale=alt.Scale(scheme="greens", domain=[0, 1]),
            legend=alt.Legend(format="%"),
        ),
        tooltip=[
            alt.Tooltip("cohort:O", title="First-visit month"),
            alt.Tooltip("months_after:O", title="Months after"),
            alt.Tooltip("active_clients:Q", title="Clients visiting", format=","),
            alt.Tooltip("active_share:Q", title="Share of cohort", format=".0%"),
        ],
    )
    text = base.mark_text(fontSize=11).encode(
        text=alt.Text("active_share:Q", format=".0%"),
        color=alt.condition("datum.active_share > 0.6", alt.value("white"), alt.value("#333")),
    )
    # The height holds the x axis too (about 60 px): 26 px a month, and never so short that
    # the y-axis title ("First-visit month") is cut (it was, at one month).
    return (cells + text).properties(height=max(180, 26 * data["cohort"].nunique() + 60))


def rate_line(frame: pd.DataFrame, value: str, title: str) -> alt.Chart:
    """A single rate over time (period on x)."""
    return (
        alt.Chart(frame)
        .mark_line(point=True, color="#4c9be8")
        .encode(
            x=alt.X("period:T", title=None, axis=alt.Axis(format="%d %b")),
            y=_rate(value, title),
            tooltip=[
                alt.Tooltip("period:T", title="From"),
                alt.Tooltip(f"{value}:Q", title=title, format=".1%"),
            ],
        )
        .properties(height=260)
    )


def small_multiples(frame: pd.DataFrame, value: str, title: str, kind: str = "rate") -> alt.Chart:
    """One small line chart per location, same scale, for side-by-side comparison."""
    axis = alt.Axis(format="%") if kind == "rate" else alt.Axis(format=",.0f")
    fmt = ".1%" if kind == "rate" else ",.2f"
    return (
        alt.Chart(frame)
        .mark_line(point=True, color="#4c9be8")
        .encode(
            x=alt.X("period:T", title=None, axis=alt.Axis(format="%d %b", labelAngle=0)),
            y=alt.Y(f"{value}:Q", title=title, axis=axis),
            tooltip=[
                alt.Tooltip("location_name:N", title="Location"),
                alt.Tooltip("period:T", title="From"),
                alt.Tooltip(f"{value}:Q", title=title, format=fmt),
            ],
        )
        .properties(width=230, height=150)
        .facet(facet=alt.Facet("location_name:N", title=None), columns=3)
    )
