"""Local mail catcher for development: an SMTP server on 127.0.0.1:1025 (aiosmtpd) that stores every message
in a SQLite file (instance/mailcatcher.sqlite3 by default), read by the development page /dev/courriels.

    python scripts/mailcatcher.py [--host 127.0.0.1] [--port 1025] [--db instance/mailcatcher.sqlite3]

The tests reuse `SQLiteStore` with an aiosmtpd Controller on a free port.
"""

import argparse
import os
import signal
import sqlite3
import threading
from datetime import UTC, datetime
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = """CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,
    mail_from TEXT NOT NULL,
    rcpt_tos TEXT NOT NULL,
    subject TEXT NOT NULL,
    raw BLOB NOT NULL
)"""


class SQLiteStore:
    """aiosmtpd handler storing each message in SQLite. Set `refuse` to make the server answer with an error
    (tests: a server that refuses some addresses, or is temporarily failing)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.refuse_recipients: dict[str, str] = {}  # address → SMTP reply, e.g. "550 5.1.1 No such user"
        self.fail_data: str | None = None  # e.g. "451 4.3.0 Try again later"
        with sqlite3.connect(self.path) as connection:
            connection.execute(SCHEMA)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.refuse_recipients.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.fail_data:
            return self.fail_data
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode()
        subject = str(make_header(decode_header(message_from_bytes(raw).get("Subject", ""))))
        with self._lock, sqlite3.connect(self.path) as connection:
            connection.execute(
                "INSERT INTO messages (received_at, mail_from, rcpt_tos, subject, raw) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    envelope.mail_from,
                    ", ".join(envelope.rcpt_tos),
                    subject,
                    raw,
                ),
            )
        return "250 Message accepted for delivery"

    def messages(self) -> list[dict]:
        with sqlite3.connect(self.path) as connection:
            rows = connection.execute(
                "SELECT id, mail_from, rcpt_tos, subject, raw FROM messages ORDER BY id"
            ).fetchall()
        return [
            dict(id=r[0], mail_from=r[1], rcpt_tos=r[2].split(", "), subject=r[3], raw=r[4]) for r in rows
        ]

    def clear(self) -> None:
        with self._lock, sqlite3.connect(self.path) as connection:
            connection.execute("DELETE FROM messages")


def main() -> None:
    from aiosmtpd.controller import Controller

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("SMTP_PORT", "1025")))
    parser.add_argument(
        "--db", default=os.environ.get("MAILCATCHER_DB", str(ROOT / "instance" / "mailcatcher.sqlite3"))
    )
    options = parser.parse_args()
    controller = Controller(SQLiteStore(options.db), hostname=options.host, port=options.port)
    controller.start()
    print(f"Mail catcher on smtp://{options.host}:{options.port}, messages in {options.db}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
