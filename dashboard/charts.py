"""Altair chart builders: pure functions from a small aggregated DataFrame to a chart.

No queries here and no Streamlit calls; pages pass in what dashboard.queries returned.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import altair as alt
import pandas as pd

from dashboard.format import pct

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
TARGET_COLOR = "#555555"
# a rate written out (tooltips, bar labels) reads as the tiles and tables do: one decimal
RATE = ".1%"


def target_rules(target: float | pd.DataFrame | None, axis: str, field: str) -> alt.Chart | None:
    """Dashed reference lines at a target (settings [targets]): `target` is one fraction, or a
    frame of location_name and target (one line per distinct target, its locations in the
    tooltip). None when no target is set. The line's value sits in `field`, the chart's own
    value field, so the axis keeps the chart's title."""
    if target is None:
        return None
    if isinstance(target, pd.DataFrame):
        known = target.dropna(subset=["target"])
        if known.empty:
            return None
        lines = (
            known.groupby("target", as_index=False)["location_name"]
            .agg(lambda names: ", ".join(sorted(map(str, names))))
            .rename(columns={"location_name": "locations"})
        )
    else:
        if pd.isna(target):
            return None
        lines = pd.DataFrame({"target": [float(target)], "locations": ["every location"]})
    lines = lines.assign(**{field: lines["target"]})
    encoding = alt.X if axis == "x" else alt.Y
    return (
        alt.Chart(lines)
        .mark_rule(strokeDash=[6, 4], color=TARGET_COLOR, size=1.5)
        .encode(
            **{axis: encoding(f"{field}:Q")},
            tooltip=[
                alt.Tooltip("target:Q", title="Target", format=RATE),
                alt.Tooltip("locations:N", title="For"),
            ],
        )
    )


def _target_line(axis: str, value_arg: int | None = None, field: str | None = None) -> Callable:
    """Gives a chart builder an optional `target=` argument (see target_rules): no target, no
    line. `value_arg` is the position of the builder's value-field argument, else `field`."""

    def wrap(build: Callable[..., alt.Chart]) -> Callable[..., alt.Chart]:
        @functools.wraps(build)
        def with_target(*args, target: float | pd.DataFrame | None = None, **kwargs):
            chart = build(*args, **kwargs)
            name = (
                field
                if field is not None
                else (args[value_arg] if len(args) > value_arg else kwargs["value"])
            )
            rules = target_rules(target, axis, name)
            return chart if rules is None else alt.layer(chart, rules)

        return with_target

    return wrap


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
            alt.Tooltip("booked_share:Q", title="Booked", format=RATE),
            alt.Tooltip("booked_hours:Q", title="Room hours booked", format=",.1f"),
            alt.Tooltip("available_hours:Q", title="Room hours open", format=",.1f"),
        ],
    )
    bars = base.mark_bar(color="#4c9be8", cornerRadiusTopLeft=3, cornerRadiusTopRight=3)
    text = base.mark_text(dy=-8, fontSize=12).encode(text=alt.Text("booked_share:Q", format=".0%"))
    return (bars + text).properties(height=260)


# Time axes: at most this many ticks on a wide chart (a year of weeks would write 52 dates).
TIME_TICKS = 12
# A partial period's point: hollow, fainter, joined to its neighbours by a dashed line.
PARTIAL_OPACITY = 0.55
PARTIAL_DASH = [4, 3]


def period_grain(frame: pd.DataFrame, period: str = "period") -> str:
    """'day', 'week' or 'month': from the rows' days_in_period (1, 7, else a month), else from
    the periods themselves (all Mondays a week or more apart: weeks; all 1sts: months)."""
    if "days_in_period" in frame and len(frame):
        days = set(frame["days_in_period"])
        return "day" if days == {1} else "week" if days == {7} else "month"
    starts = pd.Series(pd.to_datetime(frame[period]).unique()).sort_values()
    gaps = starts.diff().dropna().dt.days
    if len(starts) and (starts.dt.day == 1).all() and (gaps >= 28).all():
        return "month"
    if len(starts) and (starts.dt.day_of_week == 0).all() and (gaps >= 7).all():
        return "week"
    return "day"


def period_name(start: object, grain: str) -> str:
    """A period as people say it: "week of Mon 2 Mar", "March 2026", "Mon 2 Mar 2026"."""
    day = pd.Timestamp(start)
    if grain == "week":
        return f"week of {day:%a} {day.day} {day:%b}"
    if grain == "month":
        return f"{day:%B %Y}"
    return f"{day:%a} {day.day} {day:%b %Y}"


def _span(first: object, last: object, grain: str) -> str:
    """The covered part of a partial period: "Wed–Sun" (a week), "4–31 Mar" (a month)."""
    first, last = pd.Timestamp(first), pd.Timestamp(last)
    if grain == "week":
        return f"{first:%a} only" if first == last else f"{first:%a}–{last:%a}"
    return f"{first.day} {first:%b}" if first == last else f"{first.day}–{last.day} {last:%b}"


def value_text(value: object, kind: str = "rate", symbol: str = "$") -> str:
    """A chart value for a tooltip: "72.4%", "1,234.50" or "–" when it is missing (a tooltip's
    number format writes a missing value as "NaN" or 0)."""
    if value is None or pd.isna(value):
        return "–"
    if kind == "rate":
        return pct(value)  # rounded as the tiles and tables round it (a half up)
    if kind == "money":
        return f"{symbol}{float(value):,.2f}"
    return f"{float(value):,.1f}"


def _with_periods(
    frame: pd.DataFrame, value: str, kind: str, period: str = "period"
) -> tuple[pd.DataFrame, str]:
    """The rows with what a time chart draws besides the value: the period as an unambiguous
    UTC instant (the browser must not shift a Monday into Sunday), its name ("week of Mon 2
    Mar"), how much of it the data covers ("partial: 3 of 7 days") and the value as text."""
    grain = period_grain(frame, period)
    data = frame.copy()
    starts = pd.to_datetime(data[period])
    data["period_utc"] = starts.dt.strftime("%Y-%m-%dT00:00:00Z")
    data["period_name"] = [period_name(day, grain) for day in starts]
    if "is_partial" not in data:
        data["is_partial"] = False
    data["is_partial"] = data["is_partial"].fillna(False).astype(bool)
    if "days_covered" in data:
        data["coverage"] = [
            f"partial: {covered} of {days} days" if partial else f"all {days} days"
            for covered, days, partial in zip(
                data["days_covered"], data["days_in_period"], data["is_partial"], strict=True
            )
        ]
    else:
        data["coverage"] = "–"
    data["value_text"] = [value_text(v, kind) for v in data[value]]
    return data, grain


def period_ticks(frame: pd.DataFrame, most: int = TIME_TICKS, period: str = "period") -> list:
    """Tick values for a time axis: every period start (each week's Monday, each month's 1st)
    as a UTC date, every second, third … one when there are more than `most`.
    Vega-Lite's own week ticks fall on Sundays; these fall where the points are."""
    starts = sorted(pd.to_datetime(frame[period]).dt.normalize().unique())
    step = max(1, -(-len(starts) // most))
    return [
        alt.DateTime(year=day.year, month=day.month, date=day.day, utc=True)
        for day in map(pd.Timestamp, starts[::step])
    ]


def _time_x(frame: pd.DataFrame, grain: str, most: int, **axis) -> alt.X:
    """The x channel of a trend: a UTC time scale, ticks on the period starts (not for days,
    whose default ticks already fall on days)."""
    values = period_ticks(frame, most) if grain != "day" else alt.Undefined
    fmt = "%b %Y" if grain == "month" else "%d %b"
    return alt.X(
        "period_utc:T",
        title=None,
        scale=alt.Scale(type="utc"),
        axis=alt.Axis(values=values, format=fmt, **axis),
    )


def _period_layers(color: str | None = None) -> list[alt.Chart]:
    """A trend's layers: a dashed line through every point under a solid line through the
    full periods (so only a segment to a partial period shows dashed), filled points for full
    periods and hollow, fainter points for partial ones."""
    fixed = {"color": color} if color else {}
    full = "!datum.is_partial"
    base = alt.Chart()
    return [
        base.mark_line(strokeDash=PARTIAL_DASH, opacity=PARTIAL_OPACITY, **fixed),
        base.transform_filter(full).mark_line(**fixed),
        base.transform_filter(full).mark_point(filled=True, size=40, opacity=1, **fixed),
        base.transform_filter("datum.is_partial").mark_point(
            filled=False, fill="white", size=55, strokeWidth=2, opacity=PARTIAL_OPACITY, **fixed
        ),
    ]


def _period_tooltip(value: str, title: str, location: bool) -> list[alt.Tooltip]:
    tips = [alt.Tooltip("location_name:N", title="Location")] if location else []
    return tips + [
        alt.Tooltip("period_name:N", title="Period"),
        alt.Tooltip("value_text:N", title=title),
        alt.Tooltip("coverage:N", title="Days"),
    ]


def partial_note(frame: pd.DataFrame, period: str = "period", cells: bool = False) -> str:
    """One line under a trend saying which of its periods are partial, '' when none is:
    "The first and last weeks are partial (Wed–Sun, Mon–Tue): …". A period whose coverage
    differs by location (one location's data ends earlier) names the location."""
    if "is_partial" not in frame or not frame["is_partial"].fillna(False).any():
        return ""
    grain = period_grain(frame, period)
    periods = sorted(pd.to_datetime(frame[period]).unique())
    partial = frame[frame["is_partial"].fillna(False).astype(bool)].assign(
        _start=lambda f: pd.to_datetime(f[period])
    )
    spans: dict[pd.Timestamp, list[str]] = {}
    for start, rows in partial.groupby("_start", sort=True):
        # each distinct coverage put in words once: a week of 300 locations' therapists has
        # thousands of rows and a handful of coverages
        pairs = list(zip(rows["covered_from"], rows["covered_to"], strict=True))
        words = {pair: _span(*pair, grain) for pair in set(pairs)}
        cover = rows.assign(span=[words[pair] for pair in pairs])
        named = cover.drop_duplicates("span")
        everywhere = len(named) == 1 and (
            "location_name" not in frame
            or len(rows) == (pd.to_datetime(frame[period]) == start).sum()
        )
        if everywhere:
            spans[start] = [named["span"].iloc[0]]
        elif "location_name" not in frame:  # rows of a grid: the spans it has
            spans[start] = [", ".join(named["span"])]
        else:
            spans[start] = [f"{r.location_name}: {r.span}" for r in cover.itertuples()]
    ends = [periods[0], periods[-1]] if len(periods) > 1 else [periods[0]]
    simple = simple_one(spans)
    tail = "; their points are hollow, joined by dashes, and count only those days."
    if sum(len(v) for v in spans.values()) == 1:
        tail = "; its point is hollow, joined by dashes, and counts only those days."
    if cells:  # a grid (therapist_week_grid) fades a partial week's cells
        tail = "; their cells are faded and count only those days."
    if len(periods) == 1 and simple_one(spans):
        return f"The {grain} is partial ({spans[periods[0]][0]}){tail}"
    if simple and list(spans) == ends and len(ends) == 2:
        words = ", ".join(v[0] for v in spans.values())
        return f"The first and last {grain}s are partial ({words}){tail}"
    if simple and list(spans) == [periods[0]]:
        return f"The first {grain} is partial ({spans[periods[0]][0]}){tail}"
    if simple and list(spans) == [periods[-1]]:
        return f"The last {grain} is partial ({spans[periods[-1]][0]}){tail}"
    listed = [f"{period_name(start, grain)} ({', '.join(v)})" for start, v in spans.items()]
    return f"Partial {grain}s: " + "; ".join(listed) + tail


def simple_one(spans: dict) -> bool:
    """Whether each partial period has one coverage for every line (no location named)."""
    return all(len(v) == 1 and ":" not in v[0] for v in spans.values())


@_target_line("y", value_arg=1)
def trend(frame: pd.DataFrame, value: str, title: str, kind: str = "rate") -> alt.Chart:
    """One line per location over time (period on x), partial periods hollow and dashed."""
    axis = alt.Axis(format="%") if kind == "rate" else alt.Axis(format=",.0f")
    data, grain = _with_periods(frame, value, kind)
    return (
        alt.layer(*_period_layers(), data=data)
        .encode(
            x=_time_x(data, grain, TIME_TICKS),
            y=alt.Y(f"{value}:Q", title=title, axis=axis),
            color=_location_color("location_name", "Location"),
            tooltip=_period_tooltip(value, title, location=True),
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
            alt.Tooltip(f"{value}:Q", title=title, format=RATE if kind == "rate" else fmt),
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


@_target_line("x", value_arg=2)
def ranked_bars(
    frame: pd.DataFrame,
    category: str,
    value: str,
    title: str,
    kind: str = "rate",
    symbol: str = "$",
    color: str | None = None,
    overall: float | None = None,
    ticks: str | None = None,
) -> alt.Chart:
    """Horizontal bars, largest first, the value written at the end of each bar. `overall`
    draws a dashed rule at that value (the "All locations" figure); `ticks` names a column of
    `frame` holding each row's own target, drawn as a dark tick across its bar where set."""
    fmt = {"rate": RATE, "money": ",.2f", "hours": ",.1f"}.get(kind, ",.0f")
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
    layers = [bars, text]
    if ticks is not None and frame[ticks].notna().any():
        layers.append(
            alt.Chart(frame[frame[ticks].notna()])
            .mark_tick(color="#222", thickness=3, size=22)
            .encode(
                y=alt.Y(f"{category}:N", sort=order),
                x=alt.X(f"{ticks}:Q"),
                tooltip=[
                    alt.Tooltip(f"{category}:N"),
                    alt.Tooltip(f"{ticks}:Q", title="Target", format=fmt),
                ],
            )
        )
    if overall is not None and pd.notna(overall):
        rule = alt.Chart(pd.DataFrame({"overall": [overall]}))
        layers.append(
            rule.mark_rule(color="#555", strokeDash=[4, 3]).encode(
                x="overall:Q", tooltip=[alt.Tooltip("overall:Q", title="All locations", format=fmt)]
            )
        )
    return alt.layer(*layers).properties(height=alt.Step(28))


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
                alt.Tooltip("bar_room_utilization:Q", title="Bar rooms", format=RATE),
                alt.Tooltip("room_utilization:Q", title="All rooms", format=RATE),
                alt.Tooltip("therapist_utilization:Q", title="Therapists", format=RATE),
                alt.Tooltip("extra_bar_room_hours:Q", title="Extra bar room: h", format=",.1f"),
                alt.Tooltip("extra_bar_shift_hours:Q", title="Extra shift: h", format=",.1f"),
            ],
        )
        .properties(height=alt.Step(26))
    )


@_target_line("x", field="hours")  # the bar-work share of open hours: bar utilization
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
    """Therapist × week grid shaded by `value` up to `limit`; cells above `limit` in red. Weeks
    run Monday to Sunday, labelled by their Monday; a week the dates or the data cover in part
    is drawn faded, its tooltip saying how many days count ("partial: 3 of 7 days")."""
    data, _ = _with_periods(frame, value, "count", period="week")
    weeks = sorted(pd.to_datetime(data["week"]).unique())
    # the Monday as a label (an ordinal axis: a time axis would tick on Sundays)
    many_years = len(weeks) > 1 and (weeks[-1] - weeks[0]).days > 350
    data["week_label"] = [
        f"{day.day} {day:%b %Y}" if many_years else f"{day.day} {day:%b}"
        for day in pd.to_datetime(data["week"])
    ]
    order = list(dict.fromkeys(data.sort_values("week")["week_label"]))
    data["value_text"] = ["–" if pd.isna(v) else format(float(v), fmt) for v in data[value]]
    # the data goes on the layer, not on each mark: layering two charts of the same frame
    # compares their data by its text (a repr of the whole frame per chart)
    base = alt.Chart().encode(
        x=alt.X(
            "week_label:O",
            title="Week of (Monday)",
            sort=order,
            axis=alt.Axis(labelOverlap=True),
        ),
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
        opacity=alt.condition("datum.is_partial", alt.value(PARTIAL_OPACITY), alt.value(1)),
        tooltip=[
            alt.Tooltip("therapist:N", title="Therapist"),
            alt.Tooltip("period_name:N", title="Week"),
            alt.Tooltip("value_text:N", title=title),
            alt.Tooltip("coverage:N", title="Days"),
        ],
    )
    text = base.mark_text(fontSize=10).encode(
        text=alt.Text(f"{value}:Q", format=fmt),
        color=alt.condition(
            f"{over} || datum.{value} > {0.6 * limit}", alt.value("white"), alt.value("#333")
        ),
    )
    return alt.layer(cells, text, data=data).properties(height=alt.Step(22))


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
            alt.Tooltip("active_share:Q", title="Share of cohort", format=RATE),
        ],
    )
    text = base.mark_text(fontSize=11).encode(
        text=alt.Text("active_share:Q", format=".0%"),
        color=alt.condition("datum.active_share > 0.6", alt.value("white"), alt.value("#333")),
    )
    # The height holds the x axis too (about 60 px): 26 px a month, and never so short that
    # the y-axis title ("First-visit month") is cut (it was, at one month).
    return (cells + text).properties(height=max(180, 26 * data["cohort"].nunique() + 60))


@_target_line("y", value_arg=1)
def rate_line(frame: pd.DataFrame, value: str, title: str) -> alt.Chart:
    """A single rate over time (period on x), partial periods hollow and dashed."""
    data, grain = _with_periods(frame, value, "rate")
    return (
        alt.layer(*_period_layers("#4c9be8"), data=data)
        .encode(
            x=_time_x(data, grain, TIME_TICKS),
            y=_rate(value, title),
            tooltip=_period_tooltip(value, title, location=False),
        )
        .properties(height=260)
    )


def small_multiples(frame: pd.DataFrame, value: str, title: str, kind: str = "rate") -> alt.Chart:
    """One small line chart per location, same scale, for side-by-side comparison; partial
    periods hollow and dashed."""
    axis = alt.Axis(format="%") if kind == "rate" else alt.Axis(format=",.0f")
    data, grain = _with_periods(frame, value, kind)
    return (
        alt.layer(*_period_layers("#4c9be8"), data=data)
        .encode(
            # 230 px wide: four dates fit
            x=_time_x(data, grain, 4, labelAngle=0),
            y=alt.Y(f"{value}:Q", title=title, axis=axis),
            tooltip=_period_tooltip(value, title, location=True),
        )
        .properties(width=230, height=150)
        .facet(facet=alt.Facet("location_name:N", title=None), columns=3)
    )


# the next 7 days' warnings, worst first (the colour a day x therapist cell takes)
OVERLOAD_KINDS = {
    "weekly": ("Over the weekly limit", "#b2182b"),
    "hands_on": ("Over the hands-on limit", "#ef8a62"),
    "bar_sessions": ("Over the bar-session limit", "#f4a582"),
    "back_to_back": ("Back-to-back sessions", "#fddbc7"),
}


def overload_grid(warnings: pd.DataFrame, days: list) -> alt.Chart:
    """Day × therapist grid of the next days' warnings (date, therapist, kind, warning), each
    cell coloured by its worst warning, every warning in the tooltip; `days` are the columns,
    so a day without warnings still shows."""
    order = list(OVERLOAD_KINDS)
    data = warnings.assign(rank=[order.index(k) for k in warnings["kind"]])
    cells = (
        data.sort_values("rank")
        .groupby(["date", "therapist"], as_index=False)
        .agg(kind=("kind", "first"), warnings=("warning", "; ".join))
    )
    cells["worst"] = [OVERLOAD_KINDS[k][0] for k in cells["kind"]]
    labels = {day: f"{day:%a %d %b}" for day in days}
    cells["day"] = [labels.get(d, f"{d:%a %d %b}") for d in cells["date"]]
    shown = [k for k in order if k in set(cells["kind"])]
    return (
        alt.Chart(cells)
        .mark_rect(stroke="white", strokeWidth=2)
        .encode(
            x=alt.X(
                "day:O",
                title=None,
                sort=list(labels.values()),
                scale=alt.Scale(domain=list(labels.values())),
                axis=alt.Axis(labelAngle=0, orient="top"),
            ),
            y=alt.Y("therapist:N", title=None, axis=alt.Axis(labelLimit=320)),
            color=alt.Color(
                "worst:N",
                title="Worst warning",
                scale=alt.Scale(
                    domain=[OVERLOAD_KINDS[k][0] for k in shown],
                    range=[OVERLOAD_KINDS[k][1] for k in shown],
                ),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip("day:N", title="Day"),
                alt.Tooltip("therapist:N", title="Therapist"),
                alt.Tooltip("warnings:N", title="Warnings"),
            ],
        )
        .properties(height=alt.Step(26))
    )
