"""The `studio-ops` command: init, generate, load, inspect, demo, status, access.

Exit codes: 0 when every file loaded (rejected rows are reported, not fatal), 1 when a file
could not be loaded at all or the warehouse failed, 2 for usage errors. Errors are one line on
stderr; no traceback reaches the user (set STUDIO_OPS_DEBUG=1 to see one).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import NoReturn

from pipelines.settings import SettingsError, db_path, demo_db_path, load_settings
from pipelines.warehouse.store import WarehouseError

# Set by the commands that leave nothing for Python's teardown to close (see run()).
_exit_without_teardown = False


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    _say_when_waiting()
    try:
        return args.run(args)
    except (WarehouseError, SettingsError) as error:
        print(f"studio-ops: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("studio-ops: interrupted; the published warehouse is unchanged", file=sys.stderr)
        return 130
    except Exception as error:  # the promise: no traceback for users
        if os.environ.get("STUDIO_OPS_DEBUG"):
            raise
        if isinstance(error, OSError) and error.strerror:
            # a path the system refuses (the README's /etc/studio-ops for a user who may not
            # write there): the path and the reason in words, not an errno
            where = f"{error.filename}: " if error.filename else ""
            reason = error.strerror[0].lower() + error.strerror[1:]
            print(
                f"studio-ops: {where}{reason} (check the path, and that this user may read "
                "and write there)",
                file=sys.stderr,
            )
            return 1
        text = str(error).strip().splitlines()
        what = f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
        print(f"studio-ops: unexpected error: {what}", file=sys.stderr)
        return 1


def _say_when_waiting() -> None:
    """Print a load's "waiting for another load" line (pipelines.warehouse) on stderr."""

    class Stderr(logging.StreamHandler):
        """Writes to sys.stderr as it is when a line is printed (tests replace it)."""

        @property
        def stream(self):
            return sys.stderr

        @stream.setter
        def stream(self, _value) -> None:
            pass

    waiting = logging.getLogger("studio_ops.waiting")
    if not waiting.handlers:
        handler = Stderr()
        handler.setFormatter(logging.Formatter("studio-ops: %(message)s"))
        waiting.addHandler(handler)
        waiting.propagate = False


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studio-ops",
        description="Load Ashiatsu studio booking exports into a DuckDB warehouse.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    generate = commands.add_parser("generate", help="write native exports of a synthetic chain")
    generate.add_argument("outdir", type=Path)
    generate.add_argument("--locations", type=_positive, default=3)
    generate.add_argument("--days", type=_positive, default=365)
    generate.add_argument("--seed", type=int, default=42)
    generate.add_argument(
        "--start", type=_date, default=None, help="first day (YYYY-MM-DD); default: DAYS ago"
    )
    generate.add_argument(
        "--format",
        choices=(
            "native",
            "acuity",
            "calendly",
            "fresha",
            "mindbody",
            "vagaro",
            "square",
            "jane",
            "ics",
        ),
        default="native",
        help="write bookings as this booking system exports them (one folder per location)",
    )
    generate.set_defaults(run=_generate)

    load = commands.add_parser("load", help="load export files and folders")
    load.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    load.add_argument("--db", type=Path, help="warehouse file (default: $STUDIO_OPS_DB or data/)")
    load.add_argument("--location", help="location_id for exports that lack one")
    load.add_argument(
        "--mapping",
        type=Path,
        action="append",
        help="mapping file (TOML) for booking-system exports, or a folder of them; give it "
        "again for more: each applies to the files whose header it fits",
    )
    load.add_argument(
        "--timings", action="store_true", help="print how long each build step took (on stderr)"
    )
    load.set_defaults(run=_load)

    inspect = commands.add_parser(
        "inspect", help="show what the loader sees in a file (changes no warehouse)"
    )
    inspect.add_argument("file", type=Path, metavar="FILE")
    inspect.add_argument(
        "--mapping",
        type=Path,
        action="append",
        help="mapping file (TOML) or folder to read it with; give it again for more (as load)",
    )
    inspect.add_argument("--location", help="location_id for exports that lack one")
    inspect.add_argument("--db", type=Path, help="warehouse whose saved mappings and salt to use")
    inspect.add_argument(
        "--write-mapping",
        type=Path,
        metavar="OUT.toml",
        help="write a draft mapping file, every guess commented",
    )
    inspect.set_defaults(run=_inspect)

    init = commands.add_parser("init", help="create an empty warehouse for your studio's data")
    init.add_argument("--db", type=Path, help="warehouse file (default: $STUDIO_OPS_DB or data/)")
    init.set_defaults(run=_init)

    demo = commands.add_parser(
        "demo", help="generate and load the demo chain (3 locations, 1 year) in its own file"
    )
    demo.add_argument(
        "--db", type=Path, help="demo file (default: demo.duckdb beside the warehouse)"
    )
    demo.add_argument(
        "--replace", action="store_true", help="replace a warehouse that is not the demo"
    )
    demo.set_defaults(run=_demo)

    profile = commands.add_parser("profile", help="the studio profile (rooms, hours, therapists)")
    profile_commands = profile.add_subparsers(dest="profile_command", required=True)
    suggest = profile_commands.add_parser(
        "suggest", help="print a profile proposed from what is loaded (> studio.toml)"
    )
    suggest.add_argument("--db", type=Path, help="warehouse file")
    suggest.set_defaults(run=_profile_suggest)

    rebuild = commands.add_parser(
        "rebuild", help="recompute every figure from the loaded data with this version (no files)"
    )
    rebuild.add_argument("--db", type=Path, help="warehouse file")
    rebuild.set_defaults(run=_rebuild)

    digest = commands.add_parser(
        "digest", help="email each person in the access file a summary of a day (or write it)"
    )
    digest.add_argument(
        "--date", metavar="D", help="the day to sum up (YYYY-MM-DD); default: yesterday"
    )
    digest.add_argument(
        "--to",
        nargs="+",
        default=[],
        metavar="EMAIL",
        help="only these addresses (of users in the access file; without one, every location)",
    )
    digest.add_argument(
        "--out", type=Path, metavar="DIR", help="write <address>.html files here, send nothing"
    )
    digest.add_argument("--db", type=Path, help="warehouse file (default: $STUDIO_OPS_DB or data/)")
    digest.set_defaults(run=_digest)

    status = commands.add_parser("status", help="loads, row counts, rejected rows, data quality")
    status.add_argument("--db", type=Path)
    status.set_defaults(run=_status)

    access = commands.add_parser("access", help="who may sign in to the dashboard")
    access_commands = access.add_subparsers(dest="access_command", required=True, metavar="ACTION")
    add_user = access_commands.add_parser(
        "add-user", help="add or replace a user (prompts for the password)"
    )
    add_user.add_argument("name")
    add_user.add_argument("--role", required=True, choices=("owner", "manager", "scheduler"))
    add_user.add_argument(
        "--locations", default="", help="comma-separated location ids (owners see all)"
    )
    add_user.add_argument("--email", help="identity for single sign-on (st.login), if used")
    add_user.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    add_user.add_argument(
        "--no-password", action="store_true", help="single sign-on only (needs --email)"
    )
    add_user.add_argument(
        "--file", type=Path, help="access file (default: $STUDIO_OPS_ACCESS or the setting)"
    )
    add_user.add_argument(
        "--db", type=Path, help="warehouse whose location ids are checked (default: $STUDIO_OPS_DB)"
    )
    add_user.add_argument(
        "--allow-new", action="store_true", help="accept location ids the warehouse has not loaded"
    )
    add_user.set_defaults(run=_access_add_user)
    remove_user = access_commands.add_parser(
        "remove-user", help="take a user out (their sign-ins end at their next click)"
    )
    remove_user.add_argument("name")
    remove_user.add_argument("--file", type=Path)
    remove_user.set_defaults(run=_access_remove_user)
    list_users = access_commands.add_parser("list", help="users, roles and locations")
    list_users.add_argument("--file", type=Path)
    list_users.set_defaults(run=_access_list)
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"'{text}' must be at least 1")
    return value


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (YYYY-MM-DD)") from None


def _generate(args: argparse.Namespace) -> int:
    from pipelines.demo.generate import write_chain

    started = time.perf_counter()
    with _progress("generating locations") as advance:
        counts = write_chain(
            args.outdir,
            locations=args.locations,
            days=args.days,
            seed=args.seed,
            start=args.start,
            progress=advance,
        )
    if args.format != "native":
        from pipelines.demo.vendor_writers import write_vendor

        write_vendor(args.outdir, args.format)
        print(
            f"bookings in {args.format} format: load each location's folder with --mapping "
            f"{args.outdir}/mappings/<location>.toml"
        )
    elapsed = time.perf_counter() - started
    # "1 location", never "1 locations" (the names are the files' kinds, all plural)
    rows = ", ".join(
        f"{count:,} {name.removesuffix('s') if count == 1 else name}"
        for name, count in counts.items()
    )
    print(f"wrote {args.outdir}: {rows} in {elapsed:.1f}s")
    return 0


def _load(args: argparse.Namespace) -> int:
    from pipelines.ingest.load import expand_paths, load_files

    global _exit_without_teardown
    _exit_without_teardown = True
    settings = load_settings()
    if args.timings:
        timings = logging.getLogger("studio_ops.timings")
        timings.addHandler(logging.StreamHandler(sys.stderr))
        timings.setLevel(logging.INFO)
    files = expand_paths(args.paths)
    if not files:
        print("studio-ops: no files found in " + ", ".join(map(str, args.paths)), file=sys.stderr)
        return 1
    db = db_path(args.db)
    if args.db is None and not os.environ.get("STUDIO_OPS_DB") and not db.exists():
        # the default path is relative: a cron job run from another folder would start a
        # warehouse of its own there, and fill it while the app reads the studio's
        print(
            f"studio-ops: no warehouse at {db} in {Path.cwd()}: run from the folder your "
            "warehouse is in, pass --db (or set STUDIO_OPS_DB), or start one here with "
            "`studio-ops init`; nothing loaded",
            file=sys.stderr,
        )
        return 1
    with _progress("loading files", total=len(files)) as advance, build_steps(advance.describe):
        results = load_files(
            db_path(args.db),
            files,
            settings=settings,
            location=args.location,
            mapping=args.mapping,
            progress=lambda result: (advance(), print(result.summary(), flush=True)),
        )
    failed = [r for r in results if r.outcome == "failed"]
    loaded = sum(r.outcome == "loaded" for r in results)
    if loaded:
        print(f"published {db_path(args.db)}")
    else:
        print(f"nothing loaded; {db_path(args.db)} is unchanged")
    if not args.mapping and any(r.needs for r in failed):
        _name_skipped_mappings(args.paths, db_path(args.db))
    return 1 if failed else 0


def _name_skipped_mappings(paths: list[Path], db: Path) -> None:
    """One line per mapping file a folder load skipped, when a file lacked a mapping's answers.

    A folder's .toml files are not exports (README: Saved mappings), so a mapping kept beside
    its exports, as the setup walkthrough leaves exports/acuity.toml, is not read; the file's
    own line asks for answers that file already holds."""
    from pipelines.ingest.formats import is_profile
    from pipelines.ingest.formats.mapped import mappings_folder

    def skipped(folder: Path, path: Path) -> bool:
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            return False  # hidden: a load never looks there
        try:
            return path.is_file() and not is_profile(path)
        except OSError:
            return False

    for folder in (p for p in paths if p.is_dir()):
        for mapping in sorted(folder.rglob("*.toml")):
            if skipped(folder, mapping):
                print(
                    f"studio-ops: {mapping} was not used: a mapping in a folder of exports is "
                    f"read only when named, so load again with --mapping {mapping}, or move it "
                    f"to {mappings_folder(db)}/ where every load looks",
                    file=sys.stderr,
                )


def _inspect(args: argparse.Namespace) -> int:
    from pipelines.ingest.formats import ExportError
    from pipelines.ingest.inspect import draft_mapping, inspect_file, report, write_draft

    if args.write_mapping is not None and args.write_mapping.exists():
        print(
            f"studio-ops: {args.write_mapping} exists; name another file for the draft, "
            "or remove it",
            file=sys.stderr,
        )
        return 2
    for given in args.mapping or []:
        if not given.exists():
            print(f"studio-ops: mapping file {given}: no such file", file=sys.stderr)
            return 2
    found = inspect_file(
        args.file,
        mapping=args.mapping,
        location=args.location,
        settings=load_settings(),
        db=db_path(args.db),
    )
    print("\n".join(report(found)))
    if args.write_mapping is not None:
        try:
            write_draft(args.write_mapping, draft_mapping(args.file, found, load_settings()))
        except ExportError as error:
            print(f"studio-ops: {args.file}: no draft mapping written: {error}", file=sys.stderr)
            return 1
        print(f"wrote a draft mapping to {args.write_mapping}: check its guessed lines")
    return 0 if found.would_load else 1


def _init(args: argparse.Namespace) -> int:
    from pipelines.ingest.load import NotEmptyError, init_warehouse

    db = db_path(args.db)
    if db.resolve() == demo_db_path().resolve():
        print(
            f"studio-ops: {db} is the demo's file; your studio's warehouse needs another "
            "(leave out --db for data/studio.duckdb)",
            file=sys.stderr,
        )
        return 2
    _a_warehouse(db)  # never "already your studio's warehouse" for another database
    try:
        done = init_warehouse(db, settings=load_settings())
    except NotEmptyError as error:
        print(f"studio-ops: {error}", file=sys.stderr)
        return 1
    what = {
        "created": f"created an empty warehouse for your studio in {db}",
        "replaced the demo": f"replaced the demo chain in {db} by an empty warehouse for your "
        "studio (`studio-ops demo` rebuilds the demo in its own file)",
        "exists": f"{db} is already your studio's warehouse, still empty",
        "holds data": f"{db} already holds your studio's data; nothing changed",
    }[done]
    # --db only when it is not the default, so the next command can be copied as it is
    where = f" --db {args.db}" if args.db else ""
    print(f"{what}; next: studio-ops load YOUR-EXPORTS{where} (README: Set up your studio)")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from pipelines.ingest.load import RealDataError, build_demo

    db = demo_db_path(args.db)
    started = time.perf_counter()
    try:
        # checks for real data under the warehouse lock, so a load cannot slip in before the swap
        results = build_demo(db, settings=load_settings(), replace=args.replace)
    except RealDataError as error:
        print(
            f"studio-ops: {error}; pass --replace to overwrite it, or --db for another file",
            file=sys.stderr,
        )
        return 1
    bookings = sum(r.rows_loaded for r in results if r.kind == "bookings")
    elapsed = time.perf_counter() - started
    print(f"built the demo chain in {db}: {bookings:,} bookings in {elapsed:.1f}s")
    return 0


def _a_warehouse(db: Path) -> Path:
    """`db`, once it is known to be a studio-ops warehouse when it exists: a DuckDB file of
    something else (no load_runs table) is refused in one line, before a command reads it
    (a catalog error) or writes the warehouse's tables into it. A load checks the copy it
    opens anyway (store.building), not paying a second open each morning. A file that is no
    DuckDB database is refused when opened (store.connect); a missing one by each command."""
    from pipelines.warehouse.snapshot import open_snapshot
    from pipelines.warehouse.store import NOT_OUR_DATABASE, exists

    if not db.is_file():
        return db
    con = open_snapshot(db)
    try:
        known = exists(con, "load_runs")
    finally:
        con.close()
    if not known:
        raise WarehouseError(f"{db}: {NOT_OUR_DATABASE}")
    return db


def _profile_suggest(args: argparse.Namespace) -> int:
    from pipelines.profile import ProfileError, suggest
    from pipelines.warehouse.snapshot import open_snapshot

    con = open_snapshot(_a_warehouse(db_path(args.db)))
    try:
        print(suggest(con), end="")
    except ProfileError as error:
        print(f"studio-ops: {db_path(args.db)}: {error}", file=sys.stderr)
        return 1
    finally:
        con.close()
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    from pipelines.ingest.load import rebuild_marts

    db = _a_warehouse(db_path(args.db))
    started = time.perf_counter()
    rebuild_marts(db, settings=load_settings())
    print(
        f"rebuilt every figure of {db} from its loaded data in {time.perf_counter() - started:.1f}s"
    )
    return 0


def _digest(args: argparse.Namespace) -> int:
    # The digest runs the dashboard's own queries, imported here, never at module level.
    # Outside `streamlit run` Streamlit warns on every cached query ("No runtime found"):
    # nothing a person running the digest can act on, so only its errors are shown.
    import streamlit.logger

    streamlit.logger.set_log_level("error")
    from dashboard.digest import run

    _a_warehouse(db_path(args.db))
    return run(args.date, args.to, args.out, args.db)


def _status(args: argparse.Namespace) -> int:
    from pipelines.status import print_status

    print_status(_a_warehouse(db_path(args.db)))
    return 0


def _access_file(explicit: Path | None) -> Path:
    from pipelines.access import ACCESS_ENV, access_path

    path = explicit or access_path(load_settings())
    if path is None:
        raise SettingsError(
            f"no access file configured: pass --file, set {ACCESS_ENV}, "
            "or set access_file in the settings"
        )
    return path


def _access_add_user(args: argparse.Namespace) -> int:
    from pipelines.access import AccessError, add_user

    path = _access_file(args.file)
    refusal = _unknown_locations(args)
    if refusal:  # before the password prompt: nothing asked, nothing written
        print(f"studio-ops: {refusal}", file=sys.stderr)
        return 2
    if args.no_password:
        password = None
    elif args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        import getpass

        if not _has_terminal():  # cron, a script, ssh -T: getpass would warn, then fail
            print(
                "studio-ops: no terminal to type the password in: pipe it in with "
                f'--password-stdin (echo "$PASSWORD" | studio-ops access add-user {args.name} '
                "... --password-stdin); nothing written",
                file=sys.stderr,
            )
            return 2
        try:
            password = getpass.getpass(f"password for {args.name}: ")
            again = getpass.getpass("again: ")
        except EOFError:  # Ctrl-D at the prompt
            print("\nstudio-ops: no password typed; nothing written", file=sys.stderr)
            return 1
        if again != password:
            print("studio-ops: the passwords differ; nothing written", file=sys.stderr)
            return 1
    if password is not None and len(password) < 8:
        print("studio-ops: the password needs at least 8 characters", file=sys.stderr)
        return 1
    try:
        user = add_user(
            path, args.name, args.role, args.locations.split(","), password, email=args.email
        )
    except AccessError as error:
        print(f"studio-ops: {error}", file=sys.stderr)
        return 1
    where = ", ".join(user.locations) if user.locations else "every location"
    print(f"{path}: {user.name} ({user.role}) sees {where}")
    return 0


def _has_terminal() -> bool:
    """Whether a password can be typed: getpass prompts on the controlling terminal."""
    try:
        with open("/dev/tty", "rb"):
            return True
    except OSError:
        return sys.stdin.isatty()


def _unknown_locations(args: argparse.Namespace) -> str | None:
    """Why add-user refuses its --locations (ids the warehouse does not know), or None.

    A typo such as L1 for L01 would give a manager an empty dashboard with no error, so each id
    must be one the warehouse (the one the dashboard shows) has loaded, unless --allow-new."""
    from pipelines.access import AccessError, warehouse_locations
    from pipelines.settings import db_path, shown_db_path

    wanted = list(dict.fromkeys(x.strip() for x in args.locations.split(",") if x.strip()))
    if args.role == "owner" or not wanted or args.allow_new:
        return None
    db = args.db or shown_db_path()
    if not args.db and not db.exists():
        db = db_path()  # neither the studio's warehouse nor the demo: name the studio's
    try:
        known = warehouse_locations(db)
    except AccessError as error:
        return f"{error}: cannot check the location ids; pass --allow-new to add them unchecked"
    unknown = [x for x in wanted if x not in known]
    if not unknown:
        return None
    return (
        f"{db} has no location {', '.join(unknown)} (it has: {', '.join(known) or 'none'}); "
        "nothing written. For a location not loaded yet, pass --allow-new"
    )


def _access_remove_user(args: argparse.Namespace) -> int:
    from pipelines.access import AccessError, remove_user

    path = _access_file(args.file)
    try:
        user = remove_user(path, args.name)
    except AccessError as error:
        print(f"studio-ops: {error}", file=sys.stderr)
        return 2
    print(f"{path}: removed {user.name} ({user.role}); their sign-ins end at their next click")
    return 0


def _access_list(args: argparse.Namespace) -> int:
    from pipelines.access import AccessError, load_users

    path = _access_file(args.file)
    try:
        users = load_users(path)
    except AccessError as error:
        print(f"studio-ops: {error}", file=sys.stderr)
        return 1
    for user in users.values():
        where = ", ".join(user.locations) if not user.sees_every_location else "every location"
        sign_in = " + ".join(
            part
            for part, present in (("password", user.password_hash), ("sso", user.email))
            if present
        )
        print(f"{user.name}\t{user.role}\t{where}\t{sign_in}")
    return 0


class _progress:
    """A rich progress bar on a terminal; silent when output is not a terminal.

    The `with` value advances the bar when called (by one, or to `done` of `total`), and its
    `describe(text)` replaces the bar's label."""

    def __init__(self, label: str, total: int | None = None) -> None:
        self.label, self.total, self.bar, self.task = label, total, None, None

    def __enter__(self) -> _progress:
        if sys.stdout.isatty():
            from rich.progress import Progress

            self.bar = Progress(transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=self.total)
        return self

    def __call__(self, done: int | None = None, total: int | None = None) -> None:
        if self.bar is None:
            return
        if total is not None:
            self.bar.update(self.task, completed=done, total=total)
        else:
            self.bar.advance(self.task)

    def describe(self, text: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, description=text)

    def __exit__(self, *exc) -> None:
        if self.bar:
            self.bar.stop()


@contextmanager
def build_steps(show: Callable[[str], None]) -> Iterator[None]:
    """Pass each finished build step to `show` as one line, while the block runs.

    A 10M-booking load spends a minute or more building marts after its last file; the
    progress bar's label says which step finished last, so the terminal never looks stuck."""

    class Steps(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seconds, step = record.args
            show(f"{step} done ({seconds:.1f} s)")

    logger = logging.getLogger("studio_ops.timings")
    handler, level = Steps(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def run() -> NoReturn:
    """`studio-ops` as a program: main(), then, after a load, out of the process without
    tearing it down.

    A load has published and closed its warehouse by then, and leaves no temporary file for an
    exit handler; what is left is Python freeing every module and object one by one, DuckDB,
    numpy and pyarrow included: 0.05-0.07 s of a 3 s incremental day at 10M bookings. Other
    commands exit as usual (some leave exit handlers to run)."""
    code = main()
    if not _exit_without_teardown:
        sys.exit(code)
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
