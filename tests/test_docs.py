"""The docs cannot drift: the README's metric dictionary and settings match the code."""

from __future__ import annotations

import re
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
