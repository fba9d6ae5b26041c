"""The docs cannot drift: the README's metric dictionary and settings match the code."""

from __future__ import annotations

import re
import subprocess
from dataclasses import fields
from pathlib import Path

from pipelines.metrics import README_END, README_START, dictionary_markdown
from pipelines.settings import Settings

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_metric_dictionary_is_generated_from_the_dictionary() -> None:
    text = README.read_text()
    block = text[text.index(README_START) + len(README_START) : text.index(README_END)]
    assert block.strip() == dictionary_markdown().strip(), (
        "README's metric dictionary is stale: run `.venv/bin/python -m pipelines.metrics`"
    )


def test_every_setting_is_documented_with_its_default() -> None:
    text = README.read_text()
    settings_block = re.search(r"## Settings.*?```toml\n(.*?)```", text, re.S).group(1)
    # A setting with no default (None) is shown commented out, with an example value.
    documented = dict(re.findall(r"^#? ?(\w+) = (.+)$", settings_block, re.M))
    defaults = Settings()
    for setting in fields(Settings):
        if setting.name == "source_file":
            continue
        assert setting.name in documented, f"setting {setting.name} is not in the README"
        value = getattr(defaults, setting.name)
        shown = documented[setting.name].split("#")[0].strip()
        if value is None:
            continue
        if isinstance(value, tuple):
            assert shown == "[" + ", ".join(map(_toml, value)) + "]", setting.name
        else:
            assert shown == _toml(value), setting.name


def test_readme_starts_with_the_two_commands() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README.read_text(), re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["make run", "make test"]


def _toml(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value).lower()


# --- the README's Layout section matches the tree -------------------------------------------

ROOT = README.parent
# A name in the Layout: a path of a file (`load.py`, `dashboard/navigation.py`) or a folder
# (`queries/`), or a SQL model (`int_opening_pieces`).
LAYOUT_NAME = re.compile(
    r"(?<![\w/.-])((?:[\w-]+/)*[\w-]+\.(?:py|sql|toml|md)|(?:[\w-]+/)+)(?![\w-])"
    r"|\b((?:raw|stg|int|fct|dim|rpt|dq)_\w+)"
)


def layout_entries(readme: str) -> dict[str, str]:
    """The Layout block, entry by entry: a line starting at the margin opens an entry (its
    first word: `streamlit_app.py`, `dashboard/`), indented lines continue it."""
    block = re.search(r"^## Layout\n.*?```\n(.*?)```", readme, re.S | re.M).group(1)
    entries: dict[str, str] = {}
    for line in block.splitlines():
        if line and not line[0].isspace():
            entry, _, text = line.partition(" ")
            entries[entry] = text
        elif line.strip():
            entries[entry] += "\n" + line
    return entries


def tree_files() -> list[Path]:
    """The files of the tree as git sees it (tracked, and new ones it does not ignore)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [Path(name) for name in listed if (ROOT / name).is_file()]


def layout_problems(entries: dict[str, str], files: list[Path]) -> list[str]:
    """What the Layout misses or names wrongly, one line each (empty: it matches the tree)."""
    problems = []
    # the entries are the project's top-level folders and top-level modules, no more, no less
    tops = {f"{f.parts[0]}/" for f in files if len(f.parts) > 1 and not f.parts[0].startswith(".")}
    tops |= {f.name for f in files if len(f.parts) == 1 and f.suffix == ".py"}
    problems += [f"{top} is not in the Layout" for top in sorted(tops - entries.keys())]
    problems += [f"{entry} is in the Layout but not in the tree" for entry in entries.keys() - tops]
    for entry, text in entries.items():
        base = Path(entry.rstrip("/")) if entry.endswith("/") else Path()
        under = [f for f in files if base == Path() or base in f.parents]
        folders = {parent for f in under for parent in f.parents if base in parent.parents}
        named = {m.group(1) or m.group(2) for m in LAYOUT_NAME.finditer(text)}
        # a folder's entry names every folder under it that holds code, and its own modules
        wanted = set()
        if entry.endswith("/"):
            code_folders = {f.parent for f in under if f.suffix in (".py", ".sql")}
            wanted = {f"{folder.name}/" for folder in code_folders if folder != base}
            wanted |= {
                f.name
                for f in under
                if f.parent == base
                and f.suffix == ".py"
                and f.name not in ("__init__.py", "conftest.py")
                and not f.name.startswith("test_")
            }
        problems += [f"{entry}: {name} is not in the Layout" for name in sorted(wanted - named)]
        # every name it gives is there: a path from the top, else a file or folder under it
        for name in sorted(named):
            if "/" in name.rstrip("/") and (ROOT / name).exists():
                continue
            if name.endswith("/"):
                found = any(folder.name == name.rstrip("/") for folder in folders)
            elif "." in name:
                found = any(f.name == name for f in under)
            else:  # a SQL model
                found = any(f.name == f"{name}.sql" for f in under)
            if not found:
                problems.append(f"{entry}: {name} is in the Layout but not in the tree")
    return problems


def test_the_readme_layout_matches_the_tree() -> None:
    problems = layout_problems(layout_entries(README.read_text()), tree_files())
    assert problems == [], "README ## Layout: " + "; ".join(problems)


def test_a_layout_that_misses_a_module_or_names_a_gone_one_is_caught() -> None:
    # A tree of three files, and a Layout that lists what it had before a move.
    files = [Path("app.py"), Path("pipelines/cli.py"), Path("pipelines/ingest/load.py")]
    entries = {"app.py": "the router", "pipelines/": "cli.py, warehouse.py (the old module)"}
    assert layout_problems(entries, files) == [
        "pipelines/: ingest/ is not in the Layout",
        "pipelines/: warehouse.py is in the Layout but not in the tree",
    ]


def test_the_studio_profile_in_the_export_reference_loads_as_written() -> None:
    """docs/exports.md shows a whole studio profile for owners to copy: it must parse, with a
    room that has bars, one that has not, and a therapist's split shift."""
    from pipelines.profile import parse_profile

    section = (ROOT / "docs" / "exports.md").read_text().split("## The studio profile")[1]
    [example] = re.findall(r"```toml\n(.*?)```", section, flags=re.S)
    [location] = parse_profile(example, "docs/exports.md").locations
    assert [(r.id, r.name, r.bars) for r in location.rooms] == [
        ("lotus", "Lotus", True),
        ("birch", "Birch", False),
    ]
    [maya] = location.therapists
    assert maya.bar_trained is True and len(maya.shifts[5]) == 2  # Saturday in two pieces
