"""Connecting to a PostGIS database with psycopg 3, and turning what can go wrong into messages
a person can act on.

Passwords: libpq itself reads ``PGPASSWORD`` and ``~/.pgpass``; a password typed in the window is
kept in this process's memory only (:func:`remember_password`), never written anywhere.
"""

from __future__ import annotations

from contextlib import contextmanager

from layers.errors import CityDeskError
from layers.postgis_url import PgSource

_PASSWORDS: dict[tuple, str] = {}


class PasswordRequired(CityDeskError):
    """The server asks for a password that CityDesk was not given (or the one given is wrong):
    the window catches this one and asks for the password."""

    def __init__(self, problem: str, *, source, fix: str, key: tuple, wrong: bool):
        super().__init__(problem, source=source, fix=fix)
        self.key = key
        self.wrong = wrong


def password_key(src: PgSource) -> tuple:
    return (src.host or "", src.port or 5432, src.database or "", src.user or "")


def remember_password(src: PgSource, password: str | None) -> None:
    """Use ``password`` for this server, database and user for the rest of this session (memory only)."""
    if password:
        _PASSWORDS[password_key(src)] = password
    else:
        _PASSWORDS.pop(password_key(src), None)


def known_password(src: PgSource) -> str | None:
    """The password typed for this server, database and user in this session, if any."""
    return _PASSWORDS.get(password_key(src))


def forget_passwords() -> None:
    _PASSWORDS.clear()


_ASKS = ("the server asks for a password for user ", "the server refused the password of user ")


def wants_password(message: str | None) -> bool:
    """Whether a layer's error ``message`` (a :class:`PasswordRequired`'s) means the server wants a
    password that CityDesk did not have or that was wrong, so that asking for it may help."""
    return bool(message) and any(phrase in message for phrase in _ASKS)


def _psycopg():
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - a broken install
        raise CityDeskError("the PostgreSQL driver (psycopg) is not installed",
                            fix="Install CityDesk again (pip install 'psycopg[binary]')") from exc
    return psycopg


@contextmanager
def connect(src: PgSource, *, postgis: bool = True):
    """A psycopg connection to ``src``'s database (closed at the end; a ``with conn.transaction()``
    inside commits or rolls back). With ``postgis`` the database must have the PostGIS extension."""
    psycopg = _psycopg()
    kwargs = src.conninfo()
    key = password_key(src)
    if key in _PASSWORDS:
        kwargs["password"] = _PASSWORDS[key]
    try:
        conn = psycopg.connect(autocommit=True, **kwargs)
    except psycopg.OperationalError as exc:
        raise _connect_error(src, exc, key, "password" in kwargs) from None
    try:
        if postgis:
            check_postgis(conn, src)
        yield conn
    finally:
        conn.close()


def check_postgis(conn, src: PgSource) -> str:
    """The PostGIS version of the database, or a clear error when the extension is missing."""
    row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'").fetchone()
    if row is None:
        raise CityDeskError(f"the database {src.server} has no PostGIS extension", source=src.database_url(),
                            fix="Ask the database owner to run 'CREATE EXTENSION postgis' in that database (the server "
                                "needs the PostGIS package, on Debian postgresql-15-postgis-3)")
    return row[0]


def _connect_error(src: PgSource, exc: Exception, key: tuple, had_password: bool) -> CityDeskError:
    text = str(exc)
    low = text.lower()
    where = src.database_url()
    user = src.user or "(your login name)"
    if "no password supplied" in low or ("password" in low and "authentication failed" in low):
        wrong = "authentication failed" in low
        if wrong:
            problem = f"{_ASKS[1]}{user}"
            fix = ("Check the password in PGPASSWORD or ~/.pgpass (line host:port:database:user:password), "
                   "or type it again" if not had_password else "Type the password again")
        else:
            problem = f"{_ASKS[0]}{user}, and none was given"
            fix = ("Set PGPASSWORD, add a line host:port:database:user:password to ~/.pgpass (chmod 600), "
                   "or add the layer in the window, which asks for it")
        return PasswordRequired(problem, source=where, fix=fix, key=key, wrong=wrong)
    if "authentication failed" in low:
        return CityDeskError(f"the server refused user {user} ({_first_line(text)})", source=where,
                             fix="Check the user name, or ask the database administrator for access")
    if "does not exist" in low and "database" in low:
        return CityDeskError(f"there is no database '{src.database}' on {src.host or 'localhost'}:{src.port or 5432}",
                             source=where, fix="Check the database name in the URL")
    if "does not exist" in low and "role" in low:
        return CityDeskError(f"there is no user '{user}' on the server", source=where,
                             fix="Check the user name before the @ in the URL")
    if "pg_hba.conf" in low:
        return CityDeskError("the server does not let this computer or user connect (no pg_hba.conf entry)",
                             source=where, fix="Ask the database administrator to allow the connection")
    if "translate host name" in low or "name or service not known" in low:
        return CityDeskError(f"the server name '{src.host}' is not known", source=where,
                             fix="Check the host name in the URL and the network connection")
    if "refused" in low or "timeout" in low or "could not connect" in low or "no such file" in low:
        return CityDeskError(f"cannot connect to the PostgreSQL server at {src.host or 'localhost'}:{src.port or 5432} "
                             f"({_first_line(text)})", source=where,
                             fix="Check that the server runs, and the host and port in the URL")
    return CityDeskError(f"cannot connect to the database ({_first_line(text)})", source=where,
                         fix="Check the URL, the server and your access rights")


def _first_line(text: str) -> str:
    if "connection refused" in text.lower():
        return "connection refused"
    if "timeout expired" in text.lower():
        return "no answer before the time-out"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[-1] if lines else "no answer"
    for prefix in ("connection failed:", "FATAL:", "fe_sendauth:"):
        line = line.split(prefix, 1)[-1].strip()
    return line[:200]


def db_error(src: PgSource, exc: Exception, doing: str) -> CityDeskError:
    """A database error met while ``doing`` something, as a message (the SQL is not repeated)."""
    diag = getattr(exc, "diag", None)
    detail = getattr(diag, "message_primary", None) or _first_line(str(exc))
    return CityDeskError(f"{doing} failed ({detail})", source=str(src),
                         fix="Check the table, your rights on it, and the server's log")
