"""Server-side sessions, Flask-Login wiring and the route-rule gate run before every request.

The session cookie carries only a random id (32 bytes, `secrets.token_urlsafe`); the session's content
lives on the server, keyed by the id's SHA-256: in Redis when REDIS_URL is set (shared by every worker,
keys expire by themselves), otherwise in the `auth_sessions` table. So:

- logging out deletes the record: a copy of the cookie opens nothing afterwards;
- a deactivated user, or one who lost a role, has the session ended at their next request;
- a session ends after SESSION_IDLE_MINUTES without a request (default 120) and SESSION_MAX_HOURS after
  it began (default 12), whatever the activity;
- the id changes whenever the logged-in user changes (login, logout): no session fixation;
- the id_token kept for the logout's `id_token_hint` never reaches the browser;
- a user lists their open sessions and ends any of them (/compte/sessions).

Flask's `session` object works as before (and so does the test client's `session_transaction`).
"""

import hashlib
import json
import re
import secrets
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import abort, flash, has_request_context, redirect, request, session, url_for
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SecureCookieSession, SessionInterface
from redis import BlockingConnectionPool, Redis
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import joinedload

from .extensions import db, login_manager, will_write
from .htmx import hx_redirect, is_htmx
from .models import AuthSession, User
from .models.base import utcnow
from .permissions import enforce_route_rule

# {"user": id, "roles": [...]}: the roles this user's session was opened with (one taken away ends it)
ROLES_KEY = "_roles"
TOUCH_EVERY = timedelta(seconds=60)  # last-seen time written at most once a minute per session
_SID = re.compile(r"^[A-Za-z0-9_-]{43}$")


def key_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


@dataclass
class Record:
    data: str
    user_id: int | None
    created_at: datetime
    last_seen_at: datetime
    user_agent: str = ""
    ip_address: str = ""


@dataclass
class SessionInfo:
    """One open session as its owner sees it on /compte/sessions."""

    ref: str
    created_at: datetime
    last_seen_at: datetime
    user_agent: str
    ip_address: str
    current: bool


# --- stores -----------------------------------------------------------------------------------------


class SqlStore:
    """The `auth_sessions` table. Writes happen after the view: whatever the view left uncommitted is
    rolled back first (what the request's teardown would do anyway), then the session row is committed."""

    def load(self, key: str) -> Record | None:
        row = db.session.scalar(select(AuthSession).where(AuthSession.key_hash == key))
        if row is None:
            return None
        return Record(row.data, row.user_id, row.created_at, row.last_seen_at, row.user_agent, row.ip_address)

    def save(self, key: str, record: Record, lifetime: timedelta) -> None:
        db.session.rollback()
        will_write()
        values = asdict(record)
        done = db.session.execute(update(AuthSession).where(AuthSession.key_hash == key).values(**values))
        if not done.rowcount:
            db.session.add(AuthSession(key_hash=key, **values))
        db.session.commit()

    def delete(self, keys: list[str]) -> None:
        db.session.rollback()
        will_write()
        db.session.execute(delete(AuthSession).where(AuthSession.key_hash.in_(keys)))
        db.session.commit()

    def for_user(self, user_id: int) -> dict[str, Record]:
        rows = db.session.scalars(select(AuthSession).where(AuthSession.user_id == user_id))
        return {
            row.key_hash: Record(
                row.data, row.user_id, row.created_at, row.last_seen_at, row.user_agent, row.ip_address
            )
            for row in rows
        }

    def purge(self, idle_before: datetime, started_before: datetime) -> None:
        db.session.rollback()
        will_write()
        db.session.execute(
            delete(AuthSession).where(
                or_(AuthSession.last_seen_at < idle_before, AuthSession.created_at < started_before)
            )
        )
        db.session.commit()


class RedisStore:
    """`<prefix>s:<hash>` holds the record (JSON) and expires with the session; `<prefix>u:<user id>` is
    the set of a user's session hashes (members whose record expired are dropped when read)."""

    def __init__(self, client: Redis, prefix: str):
        self.client = client
        self.prefix = prefix

    def _key(self, key: str) -> str:
        return f"{self.prefix}s:{key}"

    def _user(self, user_id: int) -> str:
        return f"{self.prefix}u:{user_id}"

    @staticmethod
    def _decode(raw) -> Record | None:
        if raw is None:
            return None
        fields = json.loads(raw)
        fields["created_at"] = datetime.fromisoformat(fields["created_at"])
        fields["last_seen_at"] = datetime.fromisoformat(fields["last_seen_at"])
        return Record(**fields)

    def load(self, key: str) -> Record | None:
        return self._decode(self.client.get(self._key(key)))

    def save(self, key: str, record: Record, lifetime: timedelta) -> None:
        fields = asdict(record)
        fields["created_at"] = record.created_at.isoformat()
        fields["last_seen_at"] = record.last_seen_at.isoformat()
        seconds = max(1, int(lifetime.total_seconds()))
        pipe = self.client.pipeline()
        pipe.set(self._key(key), json.dumps(fields), ex=seconds)
        if record.user_id is not None:
            pipe.sadd(self._user(record.user_id), key)
            pipe.expire(self._user(record.user_id), seconds, gt=True)
            pipe.expire(self._user(record.user_id), seconds, nx=True)
        pipe.execute()

    def delete(self, keys: list[str]) -> None:
        records = [self.load(key) for key in keys]
        pipe = self.client.pipeline()
        for key, record in zip(keys, records, strict=True):
            pipe.delete(self._key(key))
            if record is not None and record.user_id is not None:
                pipe.srem(self._user(record.user_id), key)
        pipe.execute()

    def for_user(self, user_id: int) -> dict[str, Record]:
        keys = sorted(self.client.smembers(self._user(user_id)))
        found = {}
        for key, raw in zip(
            keys, self.client.mget([self._key(k) for k in keys]) if keys else [], strict=True
        ):
            record = self._decode(raw)
            if record is None or record.user_id != user_id:
                self.client.srem(self._user(user_id), key)
            else:
                found[key] = record
        return found

    def purge(self, idle_before: datetime, started_before: datetime) -> None:
        """Nothing to do: Redis expires the keys."""


# --- the session interface --------------------------------------------------------------------------


class ServerSession(SecureCookieSession):
    def __init__(self, initial=None, sid: str | None = None, record: Record | None = None):
        super().__init__(initial)
        self.sid = sid
        self.record = record


class ServerSessionInterface(SessionInterface):
    serializer = TaggedJSONSerializer()

    def __init__(self, store):
        self.store = store
        self._last_purge = 0.0

    @staticmethod
    def limits(app) -> tuple[timedelta, timedelta]:
        return (
            timedelta(minutes=int(app.config["SESSION_IDLE_MINUTES"])),
            timedelta(hours=int(app.config["SESSION_MAX_HOURS"])),
        )

    def expired(self, app, record: Record, now: datetime) -> bool:
        idle, cap = self.limits(app)
        return now - record.last_seen_at > idle or now - record.created_at > cap

    def lifetime(self, app, record: Record, now: datetime) -> timedelta:
        idle, cap = self.limits(app)
        return min(idle, record.created_at + cap - now)

    def open_session(self, app, request) -> ServerSession:
        sid = request.cookies.get(self.get_cookie_name(app), "")
        if _SID.match(sid):
            key = key_hash(sid)
            record = self.store.load(key)
            if record is not None and not self.expired(app, record, utcnow()):
                try:
                    return ServerSession(self.serializer.loads(record.data), sid=sid, record=record)
                except ValueError:
                    pass
            if record is not None:
                self.store.delete([key])
        return ServerSession()

    def save_session(self, app, session: ServerSession, response) -> None:
        name, domain, path = self.get_cookie_name(app), self.get_cookie_domain(app), self.get_cookie_path(app)
        if session.accessed:
            response.vary.add("Cookie")
        user_id = _user_id(session)
        if not session:
            if session.sid is not None:
                self.store.delete([key_hash(session.sid)])
                response.delete_cookie(name, domain=domain, path=path)
            return
        now = utcnow()
        record = session.record
        if record is None or record.user_id != user_id:
            # a new session, or another user (login, logout): a new id, the old record goes
            if session.sid is not None:
                self.store.delete([key_hash(session.sid)])
            session.sid = secrets.token_urlsafe(32)
            record = session.record = Record(
                self.serializer.dumps(dict(session)),
                user_id,
                now,
                now,
                (request.user_agent.string or "")[:200],
                (request.remote_addr or "")[:64],
            )
            self.store.save(key_hash(session.sid), record, self.lifetime(app, record, now))
            self._maybe_purge(app, now)
            expires = record.created_at + self.limits(app)[1] if session.permanent else None
            response.set_cookie(
                name,
                session.sid,
                expires=expires,
                httponly=self.get_cookie_httponly(app),
                domain=domain,
                path=path,
                secure=self.get_cookie_secure(app),
                samesite=self.get_cookie_samesite(app),
            )
        elif session.modified or now - record.last_seen_at >= TOUCH_EVERY:
            record.data = self.serializer.dumps(dict(session))
            record.last_seen_at = now
            self.store.save(key_hash(session.sid), record, self.lifetime(app, record, now))

    def _maybe_purge(self, app, now: datetime) -> None:
        if time.monotonic() - self._last_purge < 600:
            return
        self._last_purge = time.monotonic()
        idle, cap = self.limits(app)
        self.store.purge(now - idle, now - cap)


def _user_id(data) -> int | None:
    value = str(data.get("_user_id") or "")
    return int(value) if value.isdigit() else None


def _interface(app) -> ServerSessionInterface:
    return app.session_interface


# --- what the account page and the services see ------------------------------------------------------


def user_sessions(app, user_id: int) -> list[SessionInfo]:
    """The user's open sessions, the most recently used first."""
    interface = _interface(app)
    now = utcnow()
    current = _current_key()
    found = [
        SessionInfo(key[:16], r.created_at, r.last_seen_at, r.user_agent, r.ip_address, key == current)
        for key, r in interface.store.for_user(user_id).items()
        if not interface.expired(app, r, now)
    ]
    return sorted(found, key=lambda s: (not s.current, -s.last_seen_at.timestamp()))


def end_sessions(app, user_id: int, *, ref: str | None = None, others: bool = False) -> int:
    """End one session of the user's (by its reference) or all but the current one; the count ended.
    Ending the current session logs out (the caller clears `session`)."""
    current = _current_key()
    keys = [
        key
        for key in _interface(app).store.for_user(user_id)
        if (ref is not None and key[:16] == ref) or (others and key != current)
    ]
    if keys:
        _interface(app).store.delete(keys)
    return len(keys)


def _current_key() -> str | None:
    sid = getattr(session, "sid", None) if has_request_context() else None
    return key_hash(sid) if sid else None


def end_all_sessions(app, user_id: int) -> None:
    keys = list(_interface(app).store.for_user(user_id))
    if keys:
        _interface(app).store.delete(keys)


# --- Flask-Login --------------------------------------------------------------------------------------


def _roles_stamp(user: User) -> list[str]:
    return sorted(
        f"{r.role}:{r.organisation_id or ''}:{r.guichet_id or ''}:{r.committee_id or ''}:{r.function or ''}"
        for r in user.roles
    )


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    # the roles in the same statement: every permission check of the request reads them
    user = (
        db.session.scalars(select(User).options(joinedload(User.roles)).where(User.id == int(user_id)))
        .unique()
        .first()
        if user_id.isdigit()
        else None
    )
    if user is None or not user.active:
        session.clear()  # deactivated (or deleted): the session ends now
        return None
    stamp = _roles_stamp(user)
    known = session.get(ROLES_KEY)
    opened_with = known["roles"] if isinstance(known, dict) and known.get("user") == user.id else None
    if opened_with is not None and set(opened_with) - set(stamp):
        session.clear()  # a role was taken away (or changed): the sessions opened with it end
        flash("Vos droits ont changé : reconnectez-vous pour continuer.", "info")
        return None
    if opened_with != stamp:  # first request of this user's session, or a role granted: keep going
        session[ROLES_KEY] = {"user": user.id, "roles": stamp}
    return user


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths are accepted as a post-login destination (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def login_url_for_current_request() -> str:
    if is_htmx():
        target = request.headers.get("HX-Current-URL", "")
        target = urlsplit(target)
        nxt = target.path + (f"?{target.query}" if target.query else "")
    else:
        nxt = request.full_path.rstrip("?")
    return url_for("auth.login", next=safe_next(nxt) or "/")


def _gate():
    verdict = enforce_route_rule()
    if verdict == "login":
        if is_htmx():
            return hx_redirect(login_url_for_current_request())
        return redirect(login_url_for_current_request())
    if verdict == "forbidden":
        abort(403)
    return None


def init_app(app) -> None:
    if app.config.get("REDIS_URL"):
        # A blocking pool: past its size, a request waits (up to 10 s) for a free connection instead of
        # failing with « Too many connections » (redis-py's plain pool refuses beyond 100).
        pool = BlockingConnectionPool.from_url(app.config["REDIS_URL"], decode_responses=True, timeout=10)
        store = RedisStore(Redis(connection_pool=pool), app.config["REDIS_PREFIX"])
    else:
        store = SqlStore()
    app.session_interface = ServerSessionInterface(store)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    app.before_request(_gate)
