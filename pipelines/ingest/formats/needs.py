"""What a vendor export needs from its mapping file, said in a form a page can ask.

An adapter that cannot read a file without an answer only its studio knows (what Acuity's
Calendar means, the location, which columns hold which field) raises `MappingNeeded`: an
ExportError whose message is the usual one line for the terminal, carrying the vendor, the
booking source and the questions still open. The Data page asks exactly those questions and
saves the answers as a mapping file (pipelines.ingest.formats.mapped.save_answers); the CLI prints
the line.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from pipelines.ingest.formats.tabular import ExportError


@dataclass(frozen=True)
class Question:
    """One answer a mapping file holds: `key` is "section.key" of the TOML (`acuity.calendar`,
    `source.location`, `columns.start_at`, `formats.datetime`)."""

    key: str
    prompt: str  # in the studio's words
    help: str = ""
    choices: tuple[str, ...] = ()  # fixed answers (empty: free text, or a location)
    required: bool = True
    # asked only when another answer is one of these values: {"acuity.calendar": ("room",)}
    only_if: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def applies(self, answers: dict[str, str]) -> bool:
        return all((answers.get(key) or "") in values for key, values in self.only_if.items())


class MappingNeeded(ExportError):
    """The file is a known kind of export, but its mapping lacks answers (see the module)."""

    def __init__(
        self,
        message: str,
        *,
        vendor: str,
        source: str,
        questions: list[Question],
        header: list[str] | None = None,
        sample: list[list[str]] | None = None,
        known: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.vendor = vendor  # the adapter: acuity, calendly, ..., mapped (any other system)
        self.source = source  # the booking source its bookings are stored under
        self.questions = list(questions)
        self.header = list(header or [])  # the file's header (generic mapping: the choices)
        self.sample = [list(r) for r in sample or []]  # its first rows, for the preview
        self.known = dict(known or {})  # answers the mapping in use already gives

    def to_dict(self) -> dict:
        """Plain data (JSON) for the upload worker to hand back to the page."""
        return {
            "message": str(self),
            "vendor": self.vendor,
            "source": self.source,
            "questions": [
                {**asdict(q), "choices": list(q.choices), "only_if": q.only_if}
                for q in self.questions
            ],
            "header": self.header,
            "sample": self.sample,
            "known": self.known,
        }

    @classmethod
    def from_dict(cls, data: dict) -> MappingNeeded:
        questions = [
            Question(
                key=q["key"],
                prompt=q["prompt"],
                help=q.get("help", ""),
                choices=tuple(q.get("choices", ())),
                required=q.get("required", True),
                only_if={k: tuple(v) for k, v in q.get("only_if", {}).items()},
            )
            for q in data.get("questions", [])
        ]
        return cls(
            data["message"],
            vendor=data["vendor"],
            source=data["source"],
            questions=questions,
            header=data.get("header"),
            sample=data.get("sample"),
            known=data.get("known"),
        )


def location_question(
    vendor_label: str, only_if: dict[str, tuple[str, ...]] | None = None
) -> Question:
    """The location of an export that names none (every booking in it goes there)."""
    return Question(
        key="source.location",
        prompt="Which location are these bookings from?",
        help=f"The {vendor_label} export does not say; every booking in it goes to this location.",
        only_if=dict(only_if or {}),
    )
