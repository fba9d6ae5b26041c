"""The one page registry: every page's title, file, icon, sidebar section and who sees it.

The router (streamlit_app.py) builds its navigation from PAGES; the tests and the benchmark
read their page lists from here too, so a new page is added in one place. Plain data: nothing
here imports Streamlit, so a test or the benchmark can read it without starting an app.
"""

from dataclasses import dataclass

PAGES_DIR = "dashboard/pages"


@dataclass(frozen=True)
class Page:
    """One page of the dashboard."""

    name: str  # the file's stem under dashboard/pages/ (what AppTest.switch_page opens)
    title: str
    icon: str
    section: str  # the sidebar heading it sits under
    url_path: str  # its URL path ("" for the default page, Day)
    owners_only: bool = False  # shown only to a viewer who sees every location and may load
    has_chart: bool = True  # the page draws a main chart (the browser tests wait for it)

    @property
    def file(self) -> str:
        """Its file, relative to the repository root (what st.Page is given)."""
        return f"{PAGES_DIR}/{self.name}.py"

    @property
    def default(self) -> bool:
        return self.url_path == ""


PAGES: tuple[Page, ...] = (
    # one location's day (the latest complete one by default): the file keeps its old name
    Page("today", "Day", ":material/today:", "Studio", ""),
    Page("capacity", "Capacity", ":material/grid_view:", "Studio", "capacity"),
    Page("bar_rooms", "Ceiling-bar rooms", ":material/fitness_center:", "Studio", "bar_rooms"),
    Page("therapists", "Therapists", ":material/groups:", "Studio", "therapists"),
    Page("week_ahead", "Next 7 days", ":material/event_upcoming:", "Studio", "week_ahead"),
    Page("clients", "Clients & retention", ":material/loyalty:", "Studio", "clients"),
    Page("locations", "Locations", ":material/storefront:", "Owner", "locations"),
    # the Data page's file is loads.py: its URL stays /loads
    Page("loads", "Data", ":material/upload_file:", "Data", "loads", has_chart=False),
    Page(
        "metric_dictionary",
        "Metric dictionary",
        ":material/menu_book:",
        "Data",
        "metric_dictionary",
        has_chart=False,
    ),
    # the studio profile describes every location: owners only (everyone on an open app)
    Page("setup", "Setup", ":material/tune:", "Owner", "setup", owners_only=True),
)


def page(name: str) -> Page:
    """The registry entry of one page, by its file's stem."""
    return next(p for p in PAGES if p.name == name)


def visible(owner: bool) -> list[Page]:
    """The pages a viewer sees, in sidebar order: owners-only pages only for an owner."""
    return [p for p in PAGES if owner or not p.owners_only]


def names(owner: bool = False) -> list[str]:
    """The file stems of the pages a viewer sees (the tests' page lists)."""
    return [p.name for p in visible(owner)]


def sections(owner: bool) -> dict[str, list[Page]]:
    """The visible pages grouped by sidebar section, sections in first-appearance order."""
    grouped: dict[str, list[Page]] = {}
    for p in visible(owner):
        grouped.setdefault(p.section, []).append(p)
    return grouped
