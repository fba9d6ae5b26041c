"""The metric dictionary (DESIGN.md invariant 4): one definition per metric, shown to users.

The entries live in ``metric_dictionary.toml`` beside this module, one per mart column the
dashboard shows. ``load_dictionary()`` reads and checks them; ``metric(name)`` looks one up.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DICTIONARY_FILE = Path(__file__).resolve().with_name("metric_dictionary.toml")
FORMATS = ("pct", "minutes", "hours", "count", "currency", "ratio", "date")
_FIELDS = ("name", "label", "meaning", "formula", "settings", "mart", "format")


@dataclass(frozen=True)
class Metric:
    """One dictionary entry: a mart column, what it means and how it is computed."""

    name: str  # the mart column
    label: str  # what the dashboard calls it
    meaning: str  # plain language
    formula: str
    settings: tuple[str, ...]  # settings the value depends on
    mart: str  # the table holding the column
    format: str  # one of FORMATS


class MetricDictionaryError(ValueError):
    """The dictionary file is malformed; the message names the entry and the problem."""


def load_dictionary() -> list[Metric]:
    """Every metric of the dictionary, in file order (checked: fields, formats, duplicates)."""
    return list(_read_dictionary())


@cache
def _read_dictionary() -> tuple[Metric, ...]:
    with open(DICTIONARY_FILE, "rb") as handle:
        entries = tomllib.load(handle).get("metric", [])
    metrics: list[Metric] = []
    seen: set[tuple[str, str]] = set()
    for number, entry in enumerate(entries, start=1):
        where = f"{DICTIONARY_FILE.name} entry {number} ({entry.get('name', '?')})"
        if sorted(entry) != sorted(_FIELDS):
            raise MetricDictionaryError(f"{where}: fields must be exactly {', '.join(_FIELDS)}")
        if entry["format"] not in FORMATS:
            raise MetricDictionaryError(f"{where}: format must be one of {', '.join(FORMATS)}")
        key = (entry["mart"], entry["name"])
        if key in seen:
            raise MetricDictionaryError(f"{where}: {key[0]}.{key[1]} is listed twice")
        seen.add(key)
        metrics.append(
            Metric(
                name=entry["name"],
                label=entry["label"],
                meaning=entry["meaning"],
                formula=entry["formula"],
                settings=tuple(entry["settings"]),
                mart=entry["mart"],
                format=entry["format"],
            )
        )
    return tuple(metrics)


def metric(name: str, mart: str | None = None) -> Metric:
    """The entry for a column; without `mart`, the first of that name (location-day KPIs first)."""
    for entry in _read_dictionary():
        if entry.name == name and (mart is None or entry.mart == mart):
            return entry
    raise KeyError(f"no metric {name!r}" + (f" in {mart}" if mart else ""))
