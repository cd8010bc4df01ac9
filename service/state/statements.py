"""Statements sent to MySQL in as few round trips as the connection allows.

A batch of the state machine is a handful of reads, then a handful of writes that depend only on
what was read. On a connection opened with CLIENT.MULTI_STATEMENTS (the applier's), each group
travels as ONE script: one round trip instead of one per statement, which on a busy machine is
most of an apply's latency. On any other connection the same statements run one by one, with the
same effect. Values are escaped by pymysql (`mogrify`) exactly as in a parameterised execute.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymysql.constants import CLIENT

MAX_SCRIPT_BYTES = 1_000_000  # well under max_allowed_packet (16 MB on MariaDB, 64 MB on MySQL 8.4)


def allows_scripts(cur) -> bool:
    return bool(cur.connection.client_flag & CLIENT.MULTI_STATEMENTS)


def select_all(cur, queries: Sequence[tuple[str, tuple | list | None]]) -> list[tuple]:
    """Run SELECTs; return the rows of each, in order."""
    texts = [cur.mogrify(sql, args) for sql, args in queries]
    if not allows_scripts(cur):
        out = []
        for text in texts:
            cur.execute(text)
            out.append(cur.fetchall())
        return out
    cur.execute(";\n".join(texts))
    out = [cur.fetchall()]
    while cur.nextset():
        out.append(cur.fetchall())
    return out


class WriteScript:
    """Write statements collected in order and sent at `flush`, in parts of at most MAX_SCRIPT_BYTES."""

    def __init__(self, cur):
        self._cur = cur
        self._texts: list[str] = []

    @property
    def cursor(self):
        """The cursor the script runs on (for reads that must see what was flushed before them)."""
        return self._cur

    def add(self, sql: str, args: tuple | list | None = None) -> None:
        self._texts.append(self._cur.mogrify(sql, args))  # no args: the text as given

    def add_rows(self, head: str, row_template: str, rows: list[tuple]) -> None:
        """`head` + VALUES of every row, as multi-row INSERTs of at most MAX_SCRIPT_BYTES each."""
        values: list[str] = []
        size = len(head)
        for row in rows:
            text = self._cur.mogrify(row_template, row)
            if values and size + len(text) + 1 > MAX_SCRIPT_BYTES:
                self._texts.append(head + ",".join(values))
                values, size = [], len(head)
            values.append(text)
            size += len(text) + 1
        if values:
            self._texts.append(head + ",".join(values))

    def flush(self) -> None:
        texts, self._texts = self._texts, []
        if not texts:
            return
        if not allows_scripts(self._cur):
            for text in texts:
                self._cur.execute(text)
            return
        part: list[str] = []
        size = 0
        for text in texts:
            if part and size + len(text) > MAX_SCRIPT_BYTES:
                self._run(part)
                part, size = [], 0
            part.append(text)
            size += len(text) + 2
        self._run(part)

    def _run(self, texts: list[str]) -> None:
        self._cur.execute(";\n".join(texts))
        while self._cur.nextset():
            pass
