"""The db_url fixture really gives an empty, writable database on each backend."""

from sqlalchemy import text

from core.db import create_engine


async def test_db_url_is_fresh_and_writable(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE probe (id INTEGER PRIMARY KEY, v TEXT)"))
            await conn.execute(text("INSERT INTO probe (id, v) VALUES (1, 'xin chào')"))
            got = (await conn.execute(text("SELECT v FROM probe"))).scalar_one()
        assert got == "xin chào"
    finally:
        await engine.dispose()
