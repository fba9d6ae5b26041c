"""Metric dictionary: every metric's meaning and formula, and the settings in force."""

import pandas as pd
import streamlit as st

from dashboard import tables
from dashboard.format import md_text
from dashboard.queries import snapshot
from pipelines.metrics import load_dictionary

st.title("Metric dictionary")
st.caption("One definition per metric, used the same way for every location.")

settings = snapshot.settings_in_force()
values = {
    "late_cancel_hours": f"{settings.late_cancel_hours} h",
    "turnover_minutes": f"{settings.turnover_minutes} min",
    "max_bar_sessions_per_day": str(settings.max_bar_sessions_per_day),
    "max_hands_on_minutes_per_day": f"{settings.max_hands_on_minutes_per_day} min",
    "weekly_hands_on_hours_limit": f"{settings.weekly_hands_on_hours_limit} h",
    "retention_windows_days": ", ".join(f"{d} days" for d in settings.retention_windows_days),
    "at_risk_days": f"{settings.at_risk_days} days",
    "lapsed_days": f"{settings.lapsed_days} days",
    "bar_service_keywords": ", ".join(settings.bar_service_keywords),
    "currency_symbol": settings.currency_symbol,
}
# targets in force ([targets] for every location, [targets.<location id>] for one), in percent
for where, name, target in settings.targets:
    values[f"targets.{name}" if where is None else f"targets.{where}.{name}"] = f"{target * 100:g}%"


def settings_text(names) -> str:
    if not names:
        return ""
    if isinstance(names, str):
        names = [names]
    return "; ".join(f"{name} = {values.get(name, '?')}" for name in names)


metrics = load_dictionary()
rows = pd.DataFrame(
    [
        {
            "Metric": m.label,
            "Meaning": m.meaning,
            "Formula": m.formula,
            "Settings in force": settings_text(m.settings),
            "Table": m.mart,
            "Name": m.name,
        }
        for m in metrics
    ]
)
if tables.has_rows(rows, "The metric dictionary is empty."):
    # the tables are the page: no toggle
    tables.show_table(rows, "metric-dictionary", people=False, toggle=False)

st.subheader("Settings in force")
st.caption(
    "From the settings file the warehouse was built with"
    + (
        f" ({md_text(settings.source_file)})."
        if settings.source_file
        else " (defaults: no settings file)."
    )
)
tables.show_table(
    pd.DataFrame({"Setting": list(values), "Value": list(values.values())}),
    "settings",
    people=False,
    toggle=False,
)
