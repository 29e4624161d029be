"""PostGIS sources written as URLs: ``postgresql://USER@HOST:PORT/DATABASE?table=SCHEMA.TABLE``
(or ``?sql=SELECT …`` for a read-only query).

A URL never carries a password: passwords come from ``PGPASSWORD``, ``~/.pgpass`` (libpq reads
both) or a prompt in the window, so that nothing CityDesk stores or prints (project files,
messages, logs, command histories) holds one. ``str(source)`` is the URL as written, always
without a password.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from layers.errors import CityDeskError

SCHEMES = ("postgresql://", "postgres://")
_OPTIONS = ("sslmode", "connect_timeout", "application_name", "sslrootcert", "options")


def is_postgis_url(spec) -> bool:
    """True for a ``postgresql://`` (or ``postgres://``) source."""
    return isinstance(spec, str) and spec.strip().lower().startswith(SCHEMES)


@dataclass(frozen=True)
class PgSource:
    """A parsed PostGIS URL. ``table`` is None for a whole database (or a ``sql`` query)."""

    user: str | None
    host: str | None
    port: int | None
    database: str | None
    schema: str = "public"
    table: str | None = None
    sql: str | None = None
    options: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        netloc = ""
        if self.user:
            netloc = quote(self.user, safe="") + "@"
        host = self.host or ""
        netloc += f"[{host}]" if ":" in host else host
        if self.port:
            netloc += f":{self.port}"
        text = f"postgresql://{netloc}/{quote(self.database or '', safe='')}"
        query = [(k, v) for k, v in self.options]
        if self.table is not None:
            query.insert(0, ("table", self.qualified))
        if self.sql is not None:
            query.insert(0, ("sql", self.sql))
        if query:
            text += "?" + "&".join(f"{k}={quote(v, safe='.,*=()<>_-/ ')}" for k, v in query)
        return text

    @property
    def qualified(self) -> str:
        """``schema.table`` as the user wrote it (not quoted: for messages only, never for SQL)."""
        return f"{self.schema}.{self.table}" if self.table is not None else ""

    @property
    def server(self) -> str:
        """``host:port/database`` for messages (no user, no password)."""
        host = self.host or "localhost"
        return f"{host}:{self.port or 5432}/{self.database or self.user or ''}"

    def with_table(self, table: str | None, schema: str = "public") -> PgSource:
        return replace(self, table=table, schema=schema, sql=None)

    def database_url(self) -> str:
        """The URL of the database alone (no table, no query)."""
        return str(replace(self, table=None, sql=None))

    def conninfo(self) -> dict:
        """Keyword arguments for ``psycopg.connect`` (libpq finds the password itself)."""
        kwargs = {k: v for k, v in (("user", self.user), ("host", self.host), ("port", self.port),
                                    ("dbname", self.database)) if v}
        kwargs.update(dict(self.options))
        kwargs.setdefault("connect_timeout", "10")
        kwargs.setdefault("application_name", "CityDesk")
        return kwargs


def parse_url(url: str) -> PgSource:
    """``postgresql://USER@HOST:PORT/DATABASE?table=SCHEMA.TABLE`` (or ``?sql=…``) as a
    :class:`PgSource`. A table without a schema is in ``public``. A password in the URL is
    refused (the message does not repeat it)."""
    text = url.strip()
    if not is_postgis_url(text):
        raise CityDeskError("this is not a PostGIS URL", source=text[:80],
                            fix="Write it as postgresql://USER@HOST:PORT/DATABASE?table=SCHEMA.TABLE")
    rest = text.split("://", 1)[1]
    head, _, query = rest.partition("?")
    netloc, _, path = head.partition("/")
    parts = urlsplit("//" + netloc)
    try:
        port = parts.port
    except ValueError:
        raise CityDeskError("the port in the URL is not a number from 1 to 65535",
                            source=_safe(text), fix="Write postgresql://USER@HOST:PORT/DATABASE") from None
    if parts.password is not None or (":" in netloc.rpartition("@")[0]):
        raise CityDeskError("the URL holds a password, and CityDesk never stores or shows passwords",
                            source=_safe(text), fix="Remove ':PASSWORD' from the URL and give the password in "
                            "PGPASSWORD or ~/.pgpass, or type it when the window asks")
    table = sql = None
    schema = "public"
    options = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == "table":
            schema, table = _split_table(value, text)
        elif key == "sql":
            sql = value.strip()
            if not sql:
                raise CityDeskError("the query after ?sql= is empty", source=_safe(text),
                                    fix="Write ?sql=SELECT … or ?table=SCHEMA.TABLE")
        elif key in _OPTIONS:
            options.append((key, value))
        elif key in ("password", "passfile"):
            raise CityDeskError("the URL holds a password, and CityDesk never stores or shows passwords",
                                source=_safe(text), fix="Give it in PGPASSWORD or ~/.pgpass instead")
        else:
            raise CityDeskError(f"'{key}' is not a known URL option", source=_safe(text),
                                fix=f"Use ?table=SCHEMA.TABLE or ?sql=SELECT …, and {', '.join(_OPTIONS)}")
    if table is not None and sql is not None:
        raise CityDeskError("the URL has both ?table= and ?sql=", source=_safe(text), fix="Give one of them")
    return PgSource(unquote(parts.username) if parts.username else None, parts.hostname, port,
                    unquote(path) if path else None, schema, table, sql, tuple(options))


def _split_table(value: str, url: str) -> tuple[str, str]:
    """``schema.table`` or ``table``; ``"a.b".c`` style quoting keeps dots inside a name."""
    value = value.strip()
    if not value:
        raise CityDeskError("the table name after ?table= is empty", source=_safe(url),
                            fix="Write ?table=SCHEMA.TABLE, e.g. ?table=public.buildings")
    if value.startswith('"') and '".' in value[1:]:
        end = value.index('".', 1)
        return value[1:end], _unquote_ident(value[end + 2:])
    if "." in value and not value.startswith('"'):
        schema, _, table = value.partition(".")
        return schema, _unquote_ident(table)
    return "public", _unquote_ident(value)


def _unquote_ident(name: str) -> str:
    if len(name) > 1 and name.startswith('"') and name.endswith('"'):
        return name[1:-1].replace('""', '"')
    return name


def _safe(url: str) -> str:
    """The URL for a message, with anything that could be a password cut out."""
    if "://" not in url:
        return url[:80]
    scheme, rest = url.split("://", 1)
    head, sep, query = rest.partition("?")
    netloc, slash, path = head.partition("/")
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{userinfo.split(':', 1)[0]}@{hostport}"
    query = "&".join(p for p in query.split("&") if not p.lower().startswith(("password", "passfile")))
    return f"{scheme}://{netloc}{slash}{path}{sep if query else ''}{query}"
