"""Database layer: one declarative ``Base`` for every package's tables and the async engine.

SQLite (aiosqlite) is the embedded default; PostgreSQL (asyncpg) is supported. One session per
unit of work (an AGI call, a handled event, a request): an AsyncSession is not safe across tasks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, String, event, func, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create the async engine; for SQLite, make the file's folder and turn on WAL and foreign keys."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if url.startswith("postgresql+asyncpg"):
        # A server that accepts but never answers must fail a connect in seconds (asyncpg waits 60 s):
        # the writers and the CDR spool then retry instead of hanging on it.
        kwargs.setdefault("connect_args", {}).setdefault("timeout", 10)
    return create_async_engine(url, **kwargs)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def unit_of_work(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session that commits on success and rolls back on error."""
    async with factory() as session, session.begin():
        yield session


def row_values(obj: Base) -> dict[str, Any]:
    """The column values set on an ORM object, for a Core bulk statement (unset columns left out,
    so server and column defaults still apply)."""
    state = obj.__dict__
    return {c.key: state[c.key] for c in obj.__table__.columns if c.key in state}


async def insert_rows(session: AsyncSession, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """One executemany INSERT for a batch: no unit-of-work bookkeeping per row."""
    if rows:
        await session.execute(insert(model), list(rows))


async def upsert_rows(
    session: AsyncSession,
    model: type[Base],
    rows: Sequence[dict[str, Any]],
    key: Sequence[str],
    *,
    keep_known: Collection[str] = (),
) -> None:
    """Insert ``rows`` or, where ``key`` already exists, overwrite every other column: one statement
    per batch on SQLite and PostgreSQL (``Session.merge`` costs a SELECT per row). Later rows in the
    batch win over earlier ones with the same key. A column in ``keep_known`` is overwritten only by
    a value: an empty string or NULL keeps what the row holds (a later writer that knows less must
    not erase what an earlier one knew)."""
    unique = list({tuple(r[k] for k in key): r for r in rows}.values())
    if not unique:
        return
    dialect = session.bind.dialect.name if session.bind is not None else ""
    stmt: Any = (pg_insert if dialect == "postgresql" else sqlite_insert)(model)
    columns = {c for r in unique for c in r} - set(key)
    table = model.__table__.c

    def new_value(c: str) -> Any:
        if c not in keep_known:
            return stmt.excluded[c]
        given = stmt.excluded[c]
        if isinstance(table[c].type, String):
            given = func.nullif(given, "")
        return func.coalesce(given, table[c])

    stmt = stmt.on_conflict_do_update(
        index_elements=list(key), set_={c: new_value(c) for c in sorted(columns)}
    )
    await session.execute(stmt, unique)


# SQLite reports a busy or locked file (another writer, a checkpoint) as OperationalError, like a
# missing table: only these messages mean "try again later".
_SQLITE_TRANSIENT = (
    "database is locked",
    "database table is locked",
    "busy",
    "disk i/o error",
    "unable to open",
)


def sqlstate(err: BaseException) -> str:
    """The SQLSTATE of a database error ("" when the driver gave none), through SQLAlchemy's wrapper."""
    orig = getattr(err, "orig", None)
    for obj in (orig, getattr(orig, "__cause__", None)):
        code = getattr(obj, "sqlstate", None) or getattr(obj, "pgcode", None)
        if isinstance(code, str):
            return code
    return ""


def is_transient(err: BaseException) -> bool:
    """Whether ``err`` means "the database cannot take this now" (retry later) rather than "this row
    can never be stored" (a bug or a value the schema refuses).

    Transient: SQLite's locked/busy file; any PostgreSQL disconnect class — asyncpg's cut connection
    arrives as a bare ``DBAPIError`` or ``InterfaceError``, a refused connect as ``OSError``, a server
    shutting down as SQLSTATE 57P01; pool timeouts; serialization failures and deadlocks (40…);
    too many connections (53…). Not transient: integrity and data errors (SQLSTATE 22, 23), syntax or
    missing objects (42), SQLite's other OperationalErrors (no such table).
    """
    from sqlalchemy import exc

    if isinstance(err, exc.IntegrityError | exc.DataError):
        return False
    code = sqlstate(err)[:2]
    if code in ("22", "23", "42"):
        return False
    if code in ("08", "40", "53", "57", "58"):
        return True
    if isinstance(err, exc.OperationalError) and type(err.orig).__module__.startswith("sqlite3"):
        return any(m in str(err.orig).lower() for m in _SQLITE_TRANSIENT)
    if isinstance(err, exc.DBAPIError):
        # A disconnect SQLAlchemy recognised, or a driver error without a SQLSTATE (asyncpg's
        # ConnectionDoesNotExistError and kin): the server's state, not the row's.
        return (
            bool(err.connection_invalidated)
            or not code
            or isinstance(err, exc.InterfaceError | exc.OperationalError)
        )
    if isinstance(err, exc.DisconnectionError | exc.TimeoutError):
        return True
    return isinstance(err, OSError | ConnectionError | TimeoutError)


async def ping(engine: AsyncEngine, timeout: float = 2.0) -> str:
    """ "" when the database answers ``SELECT 1`` within ``timeout``, else why not (readiness)."""
    import asyncio

    from sqlalchemy import text

    async def probe() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    try:
        async with asyncio.timeout(timeout):
            await probe()
    except Exception as err:
        return f"{type(err).__name__}: {err}"[:200] or type(err).__name__
    return ""
