"""What a vendor export needs from its mapping file, said in a form a page can ask.

An adapter that cannot read a file without an answer only its studio knows (what Acuity's
Calendar means, the location, which columns hold which field) raises `MappingNeeded`: an
ExportError whose message is the usual one line for the terminal, carrying the vendor, the
booking source and the questions still open. The Data page asks exactly those questions and
saves the answers as a mapping file (pipelines.ingest.formats.mapped.save_answers); the CLI prints
the line.
"""

from __future__ import annotations

import re
import unicodedata
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
    proposed: str = ""  # the answer read from the file's first rows, shown already chosen

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
                proposed=q.get("proposed", ""),
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


# --- what the file's first rows say about questions a mapping still needs ------------------------

# A price written with a decimal comma (`135,00 €`, `1.234,50`, `1 234,50`), or with a decimal
# point (`$1,234.50`, `95.50`): one or two digits after the mark, a currency around it. A cell
# such as `1.234` or `1,234` says neither (thousands, or three decimals?).
_COMMA_PRICE = re.compile(r"^[^0-9]*-?(\d{1,3}([. \u00a0\u202f']\d{3})+|\d+),\d{1,2}[^0-9]*$")
_POINT_PRICE = re.compile(r"^[^0-9]*-?(\d{1,3}(,\d{3})+|\d+)\.\d{1,2}[^0-9]*$")
# Booking systems whose adapter reads [formats] decimal -> their price columns (as _plain)
DECIMAL_VENDORS = {"fresha": ("price", "total", "sale price")}
DECIMAL_CHOICES = {
    ",": "1.234,50: a comma before the cents",
    ".": "1,234.50: a point before the cents",
}


def _cells(sample: list[list[str]], i: int) -> list[str]:
    return [row[i].strip() for row in sample if i < len(row) and row[i].strip()]


def decimal_comma_columns(header: list[str], sample: list[list[str]]) -> tuple[str, ...]:
    """The columns whose first rows write prices with a decimal comma (and none with a point)."""
    return tuple(
        name
        for i, name in enumerate(header)
        if name
        and any(_COMMA_PRICE.match(c) for c in _cells(sample, i))
        and not any(_POINT_PRICE.match(c) for c in _cells(sample, i))
    )


def decimal_question(only_if: dict[str, tuple[str, ...]] | None = None) -> Question:
    """[formats] decimal, proposed as a comma: asked when the prices read as decimal commas."""
    return Question(
        key="formats.decimal",
        prompt="How are its prices written?",
        help="Its prices have a comma before the cents (135,00): 1.234,50 is 1234.50.",
        choices=tuple(DECIMAL_CHOICES),
        only_if=dict(only_if or {}),
        proposed=",",
    )


# Fresha's export in another language (Fresha follows the account's language): told by the
# values only Fresha writes so, whatever the header says: dates with a month name
# (`04 lug 2026`) and durations such as `1h 30m` or `45m`.
_MONTH_DATE = re.compile(r"^\d{1,2}\.? [^\W\d_]{3,}\.? \d{4}(,? .*)?$")
_DURATION = re.compile(r"^(\d+ ?h( ?\d+ ?m(in)?)?|\d+ ?m(in)?)$", re.IGNORECASE)
_TIME = re.compile(r"^([01]?\d|2[0-3]):[0-5]\d(:[0-5]\d)?( ?[ap]\.? ?m\.?)?$", re.IGNORECASE)
_REFERENCE = re.compile(r"^(#[A-Za-z0-9-]+|\d+)$")
# other dates Fresha writes: numeric in the account's order (06/07/2024), a workbook's date cell
_NUMERIC_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-]\d{4}([ ,].*)?$")
_OTHER_DATE = re.compile(
    r"^(\d{1,2}[/.-]\d{1,2}[/.-]\d{4}([ ,].*)?|\d{4}-\d{2}-\d{2}([ T]00:00(:00)?)?)$"
)
LOCALE_CHOICES = {
    "en-GB": "06/07/2026 is 6 July (day first)",
    "en-US": "06/07/2026 is June 7 (month first)",
}
# Fresha's English column -> words of the same column in Italian, Spanish, French, German,
# Portuguese and Dutch (accents dropped, lowercased; a header containing one of them).
FRESHA_WORDS: dict[str, tuple[str, ...]] = {
    "Appointment reference": ("riferimento", "referencia", "reference", "referenz", "ref"),
    "Client": ("cliente", "client", "kunde", "klant"),
    "Services": ("serviz", "servicio", "service", "servico", "dienst", "behandlung"),
    "Team member": ("team", "equipo", "equipe", "mitarbeiter", "personale", "medewerker"),
    "Location": (
        "sede",
        "ubicacion",
        "sucursal",
        "lieu",
        "etablissement",
        "standort",
        "locatie",
        "vestiging",
        "local",
    ),  # fmt: skip
    "Status": ("stato", "estado", "statut", "status", "situacao"),
    "Price": ("prezzo", "precio", "prix", "preis", "preco", "prijs", "importo", "totale"),
}
# a team member's name that is a room's (Fresha studios set rooms up as team members)
_ROOM_WORDS = re.compile(
    r"\b(cabina|cabine|room|stanza|sala|salle|kabine|raum|camera|box|suite|kamer|lettino)\b"
)
STATUS_CHOICES = ("completed", "booked", "no_show", "cancelled", "late_cancelled")


def _plain(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9#]+", " ", folded.lower()).strip()


def translated_fresha(header: list[str], sample: list[list[str]]) -> dict[str, str]:
    """{Fresha's English column: the file's column} when the file looks like a Fresha export
    in another language (a column of Fresha's durations in its first rows, and one of dates
    with a month name, or of other dates beside references written #2001), else {}. Columns
    are told by their values where those say it (date, time, duration, reference), else by
    the header's words."""

    def all_cells(i: int, pattern: re.Pattern) -> bool:
        cells = _cells(sample, i)
        return bool(cells) and all(pattern.match(c) for c in cells)

    found: dict[str, str] = {}
    taken: set[int] = set()
    for name, pattern in (
        ("Scheduled date", _MONTH_DATE),
        ("Scheduled date", _OTHER_DATE),
        ("Duration", _DURATION),
        ("Scheduled time", _TIME),
        ("Appointment reference", _REFERENCE),
    ):
        at = next(
            (i for i, h in enumerate(header) if h and i not in taken and all_cells(i, pattern)),
            None,
        )
        if at is not None and name not in found:
            found[name] = header[at]
            taken.add(at)
    if "Scheduled date" not in found or "Duration" not in found:
        return {}
    date_i = header.index(found["Scheduled date"])
    if not all(_MONTH_DATE.match(c) for c in _cells(sample, date_i)):
        # numeric or ISO dates are any system's: Fresha's references (#2001) must say it
        reference = found.get("Appointment reference")
        cells = _cells(sample, header.index(reference)) if reference else []
        if not cells or not all(c.startswith("#") for c in cells):
            return {}
    for name, words in FRESHA_WORDS.items():
        if name in found:
            continue
        at = next(
            (
                i
                for i, h in enumerate(header)
                if h
                and i not in taken
                and any(w in _plain(h).split() or _plain(h).startswith(w) for w in words)
            ),
            None,
        )
        if at is not None:
            found[name] = header[at]
            taken.add(at)
    return found


def fresha_in_another_language(need: MappingNeeded) -> MappingNeeded | None:
    """For a table no format knows that looks like Fresha's export in another language, the
    questions of a Fresha mapping that names its columns in English ([headers]): each column
    Fresha reads, proposed from the first rows; the status words they hold; the location (or
    what its location names are); how prices are written. None for any other table."""
    from pipelines.ingest.validate import canonical_status

    if need.vendor != "mapped":
        return None
    guessed = translated_fresha(need.header, need.sample)
    if not guessed:
        return None
    english = tuple(dict.fromkeys([*guessed, "Scheduled time", "Appointment reference",
                                   *FRESHA_WORDS]))  # fmt: skip
    by_column = {column: name for name, column in guessed.items()}
    questions = [
        Question(
            key=f"headers.{column}",
            prompt=f"“{column}” is Fresha's",
            help="The column's name in Fresha's English export (leave empty: not needed).",
            choices=english,
            required=False,
            proposed=by_column.get(column, ""),
        )
        for column in dict.fromkeys(need.header)  # a name written twice is asked once
        if column
    ]

    def column_words(name: str) -> list[str]:
        if name not in guessed:
            return []
        i = need.header.index(guessed[name])
        return list(dict.fromkeys(_cells(need.sample, i)))

    questions += [
        Question(
            key=f"status_words.{word}",
            prompt=f"What does the status “{word}” mean?",
            choices=STATUS_CHOICES,
        )
        for word in column_words("Status")
        if canonical_status(word) is None
    ]
    # studios that set rooms up as team members ("Sara Lodi, CABINA 1"): which names are rooms
    team = guessed.get("Team member")
    names = [
        name.strip()
        for cell in column_words("Team member")
        if "," in cell
        for name in cell.split(",")
        if name.strip()
    ]
    if team and names:
        rooms = [n for n in dict.fromkeys(names) if _ROOM_WORDS.search(_plain(n))]
        questions.append(
            Question(
                key="fresha.rooms",
                prompt="Which of these team members are really rooms?",
                help=f"“{team}” names several at once (e.g. “{names[0]}, {names[1]}”): a "
                "room is the booking's room, the others its therapist.",
                choices=tuple(dict.fromkeys(names)),
                required=False,
                proposed="\n".join(rooms),
            )
        )
    places = column_words("Location")
    if places:
        questions += [
            Question(
                key=f"locations.{place}",
                prompt=f"Which of your locations is “{place}”?",
                help="Bookings at this location in the export go to this location.",
            )
            for place in places
        ]
    else:
        questions.append(location_question("Fresha"))
    if guessed.get("Price") in decimal_comma_columns(need.header, need.sample):
        questions.append(decimal_question())
    numeric = [_NUMERIC_DATE.match(c) for c in column_words("Scheduled date")]
    if numeric and all(numeric):
        # 06/07/2026: the account's locale says which is the day; a number above 12 tells
        day_first = any(int(m[1]) > 12 for m in numeric)
        month_first = any(int(m[2]) > 12 for m in numeric)
        questions.append(
            Question(
                key="fresha.locale",
                prompt="How does the account write its dates?",
                help="Fresha writes numeric dates in the account's order.",
                choices=tuple(LOCALE_CHOICES),
                proposed="en-GB"
                if day_first and not month_first
                else ("en-US" if month_first and not day_first else ""),
            )
        )
    message = (
        f"{need}; it looks like a Fresha export in another language: a mapping's [headers] "
        "names its columns in English"
    )
    return MappingNeeded(
        message,
        vendor="fresha",
        source="fresha",
        questions=questions,
        header=need.header,
        sample=need.sample,
        known=need.known,
    )


def with_file_questions(need: MappingNeeded) -> MappingNeeded:
    """The questions the file's first rows raise beyond the mapping's: a Fresha export in
    another language gets Fresha's ([headers]); another system's table whose prices are
    written with a decimal comma is asked how (once its price column is chosen)."""
    fresha = fresha_in_another_language(need)
    if fresha is not None:
        return fresha
    if need.vendor in DECIMAL_VENDORS and "formats.decimal" not in need.known:
        # a booking system's export: its price column, by the names the adapter reads
        prices = [c for c in need.header if _plain(c) in DECIMAL_VENDORS[need.vendor]]
        if set(prices) & set(decimal_comma_columns(need.header, need.sample)):
            return _adding(need, [*need.questions, decimal_question()])
        return need
    if need.vendor != "mapped" or any(q.key == "formats.decimal" for q in need.questions):
        return need
    columns = decimal_comma_columns(need.header, need.sample)
    if not columns or "formats.decimal" in need.known:
        return need
    questions = list(need.questions)
    at = next((i + 1 for i, q in enumerate(questions) if q.key == "columns.price"), len(questions))
    questions.insert(at, decimal_question({"columns.price": columns}))
    return _adding(need, questions)


def _adding(need: MappingNeeded, questions: list[Question]) -> MappingNeeded:
    return MappingNeeded(
        str(need),
        vendor=need.vendor,
        source=need.source,
        questions=questions,
        header=need.header,
        sample=need.sample,
        known=need.known,
    )
