"""Server-side guard on Streamlit's upload endpoint (`PUT /_stcore/upload_file/<session>/<id>`).

Streamlit accepts a file from any open session, signed in or not, and holds it in the app's
memory until the session ends. The guard, installed once per process by the router:
- refuses (HTTP 403) an upload from a session whose last run had no signed-in viewer who may
  load exports, before a byte of the body is read. The router marks each session on every run
  (:func:`allow_uploads`); on an open app (no access file) every session is marked, as before;
- refuses (HTTP 413) a file that would take what one session holds past
  `max_upload_session_mb`, so one session cannot fill the app's memory.

It hooks two Streamlit 1.67 internals: `Runtime.is_active_session`, which the upload route
alone calls before reading the body, and `MemoryUploadedFileManager.add_file`.
"""

from __future__ import annotations

import logging
import threading

from pipelines.access import process_wide

LOG = logging.getLogger("studio_ops.upload_guard")


class _GuardState:
    """The guard's state, one per server process (access.process_wide): Streamlit re-imports
    this module when a source file changes, and fresh module-level state would leave the hooks
    already installed checking marks that nobody sets any more."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # session id -> bytes that session may hold; a session absent here may not upload
        self.may_upload: dict[str, int] = {}
        self.installed = False


_state: _GuardState = process_wide("upload_guard", _GuardState)
_lock = _state.lock
_may_upload = _state.may_upload


def install() -> None:
    """Hook the running Streamlit server's upload route (once per process; later calls no-op)."""
    from starlette.exceptions import HTTPException
    from streamlit.runtime import Runtime

    with _lock:
        if _state.installed or not Runtime.exists():
            return
        runtime = Runtime.instance()
        if not isinstance(runtime, Runtime):  # AppTest's stand-in: no upload endpoint
            return
        is_active = runtime.is_active_session
        manager = runtime.uploaded_file_mgr
        add_file = manager.add_file

        def is_active_and_may_upload(session_id: str) -> bool:
            if not is_active(session_id):
                return False
            if session_id not in _may_upload:
                LOG.warning("upload refused: session %s has no viewer who may load", session_id)
                raise HTTPException(status_code=403, detail="Sign in to upload files.")
            return True

        def add_file_within_cap(session_id: str, file) -> None:
            with _lock:
                cap = _may_upload.get(session_id)
                if cap is None:  # signed out between the route's check and now
                    raise HTTPException(status_code=403, detail="Sign in to upload files.")
                held = sum(
                    len(rec.data)
                    for rec in manager.get_files(session_id, _held_ids(manager, session_id))
                    if rec.file_id != file.file_id  # a file sent again replaces itself
                )
                if held + len(file.data) > cap:
                    raise HTTPException(
                        status_code=413,
                        detail=(
                            f"This session already holds {held / 2**20:,.0f} MB of uploads; the "
                            f"limit is {cap // 2**20} MB (the setting max_upload_session_mb)."
                        ),
                    )
                add_file(session_id, file)

        runtime.is_active_session = is_active_and_may_upload
        manager.add_file = add_file_within_cap
        _state.installed = True
    _clean_upload_leftovers()


def _clean_upload_leftovers() -> None:
    """On the app's start: remove upload folders left by an app killed mid-upload."""
    from dashboard.uploads import UploadFolderError, clean_leftovers
    from pipelines.settings import shown_db_path

    try:
        for folder in clean_leftovers(shown_db_path()):
            LOG.info("removed %s, left by an upload that never finished", folder)
    except (OSError, UploadFolderError) as error:
        LOG.warning("could not clean the upload folder: %s", error)


def _held_ids(manager, session_id: str) -> list[str]:
    """The ids of the files a session holds (MemoryUploadedFileManager keeps them by session)."""
    return list(manager.file_storage.get(session_id, {}))


def allow_uploads(allowed: bool) -> None:
    """Mark (or unmark) this run's session as one that may upload (up to max_upload_session_mb).

    Call on every run, after sign-in: a session that signs out is unmarked on its next run.
    """
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    from pipelines.settings import SettingsError, load_settings

    ctx = get_script_run_ctx()
    if ctx is None:
        return
    try:
        cap_mb = load_settings().max_upload_session_mb
    except SettingsError:
        allowed = False  # the page says what is wrong with the settings; nothing loads meanwhile
    with _lock:
        if allowed:
            _may_upload[ctx.session_id] = cap_mb * 2**20
        else:
            _may_upload.pop(ctx.session_id, None)
        _forget_closed_sessions()


def _forget_closed_sessions() -> None:
    """Drop the marks of sessions that have ended (callers hold _lock)."""
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return
    # no public list of sessions; AppTest's stand-in runtime has none at all
    sessions = getattr(Runtime.instance(), "_session_mgr", None)
    if sessions is None:
        return
    for session_id in list(_may_upload):
        if sessions.get_session_info(session_id) is None:
            del _may_upload[session_id]
