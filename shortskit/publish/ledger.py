"""The publish ledger: one SQLite file beside the batch's report that remembers, per channel and short (by the
MP4's content digest), what the platform already holds, so a re-run never uploads the same short twice.

States: ``uploading`` (a resumable session exists: its URI, so a killed run goes on where the server still has
the bytes), ``uploaded`` (the platform has the video: its id), ``scheduled`` (it also has its publish time),
``failed`` (the platform refused it: the reason). Every row has the time of its last change (UTC). No token or
key is ever written here: only the session URI, which the platform binds to the login that opened it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["LEDGER_NAME", "Entry", "Ledger"]

LEDGER_NAME = "publish.sqlite"
STATES = ("uploading", "uploaded", "scheduled", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS videos (
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    digest TEXT NOT NULL,        -- sha256 of the MP4
    short TEXT NOT NULL,         -- the MP4's path when it was last seen (for people reading the ledger)
    state TEXT NOT NULL CHECK (state IN ('uploading', 'uploaded', 'scheduled', 'failed')),
    session_uri TEXT,            -- the resumable upload session, while uploading
    video_id TEXT,
    publish_at TEXT,             -- RFC 3339 UTC, the slot it was given
    finished INTEGER NOT NULL DEFAULT 0,  -- thumbnail and captions done (or given up on)
    error TEXT,
    updated TEXT NOT NULL,       -- RFC 3339 UTC
    PRIMARY KEY (platform, channel, digest)
)
"""


@dataclass(frozen=True)
class Entry:
    """One short's row."""

    digest: str
    short: str
    state: str
    session_uri: str | None
    video_id: str | None
    publish_at: str | None
    finished: bool
    error: str | None
    updated: str


class Ledger:
    """The ledger file at ``path`` for one platform and channel; each change is committed at once."""

    def __init__(self, path: Path, *, platform: str, channel: str) -> None:
        self.path, self.platform, self.channel = Path(path), platform, channel
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        # one short-lived connection a change: a killed run leaves a consistent file behind
        with closing(sqlite3.connect(self.path, timeout=30)) as db, db:
            yield db

    def get(self, digest: str) -> Entry | None:
        with self._db() as db:
            row = db.execute(
                "SELECT digest, short, state, session_uri, video_id, publish_at, finished, error, updated FROM videos "
                "WHERE platform = ? AND channel = ? AND digest = ?",
                (self.platform, self.channel, digest),
            ).fetchone()
        return None if row is None else Entry(*row[:6], bool(row[6]), *row[7:])

    def all(self) -> list[Entry]:
        with self._db() as db:
            rows = db.execute(
                "SELECT digest, short, state, session_uri, video_id, publish_at, finished, error, updated FROM videos "
                "WHERE platform = ? AND channel = ? ORDER BY updated",
                (self.platform, self.channel),
            ).fetchall()
        return [Entry(*r[:6], bool(r[6]), *r[7:]) for r in rows]

    def put(self, digest: str, short: str, state: str, **fields: object) -> Entry:
        """Set ``digest``'s state (and any of session_uri, video_id, publish_at, finished, error)."""
        assert state in STATES, state
        old = self.get(digest)
        values = {
            "session_uri": old.session_uri if old else None,
            "video_id": old.video_id if old else None,
            "publish_at": old.publish_at if old else None,
            "finished": int(old.finished) if old else 0,
            "error": None,
        }
        values.update({k: (int(v) if k == "finished" else v) for k, v in fields.items()})
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with self._db() as db:
            db.execute(
                "INSERT OR REPLACE INTO videos (platform, channel, digest, short, state, session_uri, video_id, "
                "publish_at, finished, error, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (self.platform, self.channel, digest, short, state, values["session_uri"], values["video_id"],
                 values["publish_at"], values["finished"], values["error"], now),
            )  # fmt: skip
        entry = self.get(digest)
        assert entry is not None
        return entry
