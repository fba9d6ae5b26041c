"""Sending email through the studio's SMTP server (the daily digest, `studio-ops digest`).

The server, port, STARTTLS and user come from the settings file (smtp_host, smtp_port,
smtp_starttls, smtp_user, smtp_from); the password only from the environment variable
STUDIO_OPS_SMTP_PASSWORD, never from a file. Every failure is a MailError with one line saying
what went wrong in words (server unreachable, sign-in refused, address refused), never a
traceback.
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage

from pipelines.settings import Settings

PASSWORD_ENV = "STUDIO_OPS_SMTP_PASSWORD"
TIMEOUT_SECONDS = 30


class MailError(RuntimeError):
    """A message that could not be sent; the text is one line for the person running it."""


class RefusedError(MailError):
    """The server took the connection but refused this one message (its address, its size):
    the next message may still go through."""


@dataclass(frozen=True)
class Server:
    """Where and how to send: the SMTP settings in force, and the password from the
    environment."""

    host: str
    port: int
    starttls: bool
    user: str | None
    password: str | None
    sender: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Server:
        """The server the settings name; MailError when there is none or no From address."""
        where = f" in {settings.source_file}" if settings.source_file else ""
        if not settings.smtp_host:
            raise MailError(
                f"no SMTP server configured: set smtp_host{where} (see Daily digest in the "
                "README), or write the emails to files with --out DIR"
            )
        sender = settings.smtp_from or settings.smtp_user
        if not sender or "@" not in sender:
            raise MailError(f"no From address: set smtp_from{where} to the address to send from")
        password = os.environ.get(PASSWORD_ENV) or None
        if settings.smtp_user and password is None:
            raise MailError(
                f"smtp_user is {settings.smtp_user} but {PASSWORD_ENV} is not set: put the "
                "SMTP password in that environment variable"
            )
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_starttls,
            settings.smtp_user,
            password,
            sender,
        )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@contextmanager
def connected(server: Server) -> Iterator[smtplib.SMTP]:
    """An open, signed-in SMTP connection to `server` (closed on leaving); MailError when the
    server cannot be reached, refuses STARTTLS or refuses the sign-in."""
    try:
        smtp = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT_SECONDS)
    except (OSError, smtplib.SMTPException) as error:
        raise MailError(f"cannot reach the SMTP server {server.address}: {_why(error)}") from None
    try:
        try:
            smtp.ehlo()
            if server.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
        except smtplib.SMTPNotSupportedError:
            raise MailError(
                f"the SMTP server {server.address} does not offer STARTTLS: set "
                "smtp_starttls = false only if the connection is otherwise safe"
            ) from None
        except (OSError, smtplib.SMTPException) as error:
            raise MailError(
                f"the SMTP server {server.address} failed the greeting or STARTTLS: {_why(error)}"
            ) from None
        if server.user:
            try:
                smtp.login(server.user, server.password or "")
            except smtplib.SMTPAuthenticationError as error:
                raise MailError(
                    f"the SMTP server {server.address} refused the sign-in of {server.user}: "
                    f"{_why(error)}"
                ) from None
            except (OSError, smtplib.SMTPException) as error:
                raise MailError(
                    f"signing in to the SMTP server {server.address} failed: {_why(error)}"
                ) from None
        yield smtp
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


def send(smtp: smtplib.SMTP, message: EmailMessage) -> None:
    """Send one message on an open connection; MailError names the refused address."""
    try:
        smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        refused = ", ".join(
            f"{address} ({_reply(code, text)})"
            for address, (code, text) in error.recipients.items()
        )
        raise RefusedError(f"the SMTP server refused {refused}") from None
    except smtplib.SMTPResponseException as error:
        raise RefusedError(f"the SMTP server refused the message: {_why(error)}") from None
    except (OSError, smtplib.SMTPException) as error:
        raise RefusedError(f"sending failed: {_why(error)}") from None


def _reply(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {' '.join(words.split())}".strip()


def _why(error: BaseException) -> str:
    """The error in one line: the server's reply, else the system's words."""
    if isinstance(error, smtplib.SMTPResponseException):
        return _reply(error.smtp_code, error.smtp_error)
    if isinstance(error, socket.gaierror):
        return "no such host"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is the server running and the port right?)"
    if isinstance(error, TimeoutError | socket.timeout):
        return f"no answer within {TIMEOUT_SECONDS} s"
    text = " ".join(str(error).split())
    return text or type(error).__name__
