"""People and machine clients of the hub: users with roles, sessions, login throttling, API tokens.

Passwords are stored as argon2id hashes; session and API tokens are random and only their
sha256 is stored, so a copy of the database does not let anyone in.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal, get_args

import sqlite_utils
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

log = logging.getLogger(__name__)

Role = Literal["operator", "supervisor", "privacy_officer", "admin", "investigator"]
ROLES: tuple[str, ...] = get_args(Role)
"""Every role the hub knows: the one list that routes, the CLI and the config check against."""
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
MIN_PASSWORD = 10
SESSION_IDLE_S = 8 * 3600
"""A session unused for a shift's length ends."""
THROTTLE_WINDOW_S = 15 * 60
THROTTLE_MAX_FAILURES = 5
"""Failed logins allowed per (user name, address) in the window. Counting per pair, not per
name, means nobody can lock an operator out of their console by guessing from elsewhere."""
THROTTLE_MAX_FAILURES_PER_IP = 20
"""Failed logins allowed per address, whatever the user names, in the window."""

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class UserError(ValueError):
    """A user operation was refused; the text says why and what to do."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    disabled: bool
    language: str | None = None


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password too short: at least {MIN_PASSWORD} characters")


def _user(row: Any) -> User:
    return User(id=int(row["id"]), username=str(row["username"]), role=str(row["role"]),
                disabled=bool(row["disabled"]), language=row["language"])


def add_user(db: sqlite_utils.Database, username: str, password: str, role: str) -> User:
    """Create a user; refuses bad names, unknown roles, short passwords and duplicates."""
    if not USERNAME_PATTERN.match(username):
        raise UserError("user name must be 2-32 characters: lower-case letters, digits, . _ -")
    _check_role(role)
    _check_password(password)
    now = time.time()
    if get_user(db, username) is not None:
        raise UserError(f"user {username!r} already exists; use `vigie hub user passwd`")
    db.execute(
        "INSERT INTO users (username, password_hash, role, disabled, created_at, updated_at) "
        "VALUES (?, ?, ?, 0, ?, ?)", [username, _hasher.hash(password), role, now, now])
    user = get_user(db, username)
    assert user is not None
    log.info("user %s added with role %s", username, role)
    return user


def get_user(db: sqlite_utils.Database, username: str) -> User | None:
    rows = list(db.query("SELECT * FROM users WHERE username = ?", [username]))
    return _user(rows[0]) if rows else None


def list_users(db: sqlite_utils.Database) -> list[User]:
    return [_user(r) for r in db.query("SELECT * FROM users ORDER BY username")]


def set_password(db: sqlite_utils.Database, username: str, password: str) -> None:
    """Change a password and end every session of that user."""
    _check_password(password)
    user = get_user(db, username)
    if user is None:
        raise UserError(f"no user {username!r}")
    db.execute("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?",
               [_hasher.hash(password), time.time(), user.id])
    db.execute("DELETE FROM sessions WHERE user_id = ?", [user.id])


def set_language(db: sqlite_utils.Database, username: str, language: str | None) -> None:
    """The language of ``username``'s pages and reports (``None``: the hub's default)."""
    from central.i18n import LANGUAGES

    if language is not None and language not in LANGUAGES:
        raise UserError(f"unknown language {language!r}: choose one of {', '.join(LANGUAGES)}")
    user = get_user(db, username)
    if user is None:
        raise UserError(f"no user {username!r}")
    db.execute("UPDATE users SET language = ?, updated_at = ? WHERE id = ?",
               [language, time.time(), user.id])


def set_disabled(db: sqlite_utils.Database, username: str, disabled: bool = True) -> None:
    """Disable (or re-enable) a user; disabling ends their sessions at once."""
    user = get_user(db, username)
    if user is None:
        raise UserError(f"no user {username!r}")
    db.execute("UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?",
               [int(disabled), time.time(), user.id])
    if disabled:
        db.execute("DELETE FROM sessions WHERE user_id = ?", [user.id])


def throttled(db: sqlite_utils.Database, username: str, ip: str, now: float | None = None) -> float:
    """Seconds to wait before another login attempt for this name and address (0: go ahead)."""
    now = now or time.time()
    since = now - THROTTLE_WINDOW_S
    wait = 0.0
    for where, params, limit in (
        ("username = ? AND ip = ?", [username, ip], THROTTLE_MAX_FAILURES),
        ("ip = ?", [ip], THROTTLE_MAX_FAILURES_PER_IP),
    ):
        rows = [r[0] for r in db.execute(
            f"SELECT ts FROM login_attempts WHERE {where} AND ok = 0 AND ts > ? ORDER BY ts",
            [*params, since]).fetchall()]
        if len(rows) >= limit:
            wait = max(wait, rows[-limit] + THROTTLE_WINDOW_S - now)
    return max(wait, 0.0)


@dataclass(frozen=True)
class LoginResult:
    """What a login attempt gave: the user, or nobody; ``wait_s`` > 0 when it was throttled
    (the password was then not checked at all)."""

    user: User | None
    wait_s: float = 0.0


def _reserve_attempt(db: sqlite_utils.Database, username: str, ip: str) -> tuple[float, int]:
    """Count the recent failures and, when under the limits, record this attempt as failed, in
    one write transaction: parallel attempts cannot all pass the count before any is recorded.
    Returns (seconds to wait, 0) when throttled, else (0, the attempt's row id)."""
    now = time.time()
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        wait = throttled(db, username, ip, now)
        if wait > 0:
            return wait, 0
        cur = db.execute("INSERT INTO login_attempts (ts, username, ip, ok) VALUES (?, ?, ?, 0)",
                         [now, username, ip])
        db.execute("DELETE FROM login_attempts WHERE ts < ?", [now - 4 * THROTTLE_WINDOW_S])
        return 0.0, int(cur.lastrowid or 0)


def attempt_login(db: sqlite_utils.Database, username: str, password: str, ip: str) -> LoginResult:
    """A throttled password check (constant work whether or not the user exists). The attempt
    is recorded as a failure before the hash is checked and marked good after, so at most
    ``THROTTLE_MAX_FAILURES`` wrong passwords per name and address reach argon2 in the window."""
    username = username[:64]
    wait, attempt = _reserve_attempt(db, username, ip)
    if wait > 0:
        return LoginResult(user=None, wait_s=wait)
    rows = list(db.query("SELECT * FROM users WHERE username = ?", [username]))
    stored = str(rows[0]["password_hash"]) if rows else _DUMMY_HASH
    try:
        ok = _hasher.verify(stored, password) and bool(rows) and not rows[0]["disabled"]
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok:
        return LoginResult(user=None)
    db.execute("UPDATE login_attempts SET ok = 1 WHERE id = ?", [attempt])
    if _hasher.check_needs_rehash(stored):
        db.execute("UPDATE users SET password_hash = ? WHERE id = ?",
                   [_hasher.hash(password), rows[0]["id"]])
    return LoginResult(user=_user(rows[0]))


def authenticate(db: sqlite_utils.Database, username: str, password: str, ip: str) -> User | None:
    """The user when the password is right and the attempt not throttled, else None."""
    return attempt_login(db, username, password, ip).user


def open_session(db: sqlite_utils.Database, user: User, ip: str) -> str:
    """Start a server-side session; returns the token for the cookie (only its hash is kept)."""
    token = secrets.token_urlsafe(32)
    now = time.time()
    db.execute("INSERT INTO sessions (id, user_id, csrf, created_at, last_seen, ip) "
               "VALUES (?, ?, ?, ?, ?, ?)",
               [_sha(token), user.id, secrets.token_urlsafe(24), now, now, ip])
    return token


def load_session(db: sqlite_utils.Database, token: str) -> Session | None:
    """The live session for a cookie token, or None (unknown, idle too long, user disabled)."""
    if not token or len(token) > 200:
        return None
    now = time.time()
    rows = list(db.query(
        "SELECT s.id AS sid, s.csrf, s.last_seen, u.* FROM sessions s JOIN users u "
        "ON u.id = s.user_id WHERE s.id = ?", [_sha(token)]))
    if not rows:
        return None
    row = rows[0]
    if row["disabled"] or now - float(row["last_seen"]) > SESSION_IDLE_S:
        db.execute("DELETE FROM sessions WHERE id = ?", [row["sid"]])
        return None
    if now - float(row["last_seen"]) > 30:
        db.execute("UPDATE sessions SET last_seen = ? WHERE id = ?", [now, row["sid"]])
    return Session(user=_user(row), csrf=str(row["csrf"]))


def close_session(db: sqlite_utils.Database, token: str) -> None:
    db.execute("DELETE FROM sessions WHERE id = ?", [_sha(token)])


def add_api_client(db: sqlite_utils.Database, name: str, role: str) -> str:
    """Register a machine client (an integration) with a role; returns its token, shown once."""
    if not USERNAME_PATTERN.match(name):
        raise UserError("client name must be 2-32 characters: lower-case letters, digits, . _ -")
    _check_role(role)
    if list(db.query("SELECT 1 FROM api_clients WHERE name = ?", [name])):
        raise UserError(f"API client {name!r} already exists")
    token = "vgt_" + secrets.token_urlsafe(32)
    db.execute("INSERT INTO api_clients (name, token_sha256, role, disabled, created_at) "
               "VALUES (?, ?, ?, 0, ?)", [name, _sha(token), role, time.time()])
    return token


def list_api_clients(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every registered machine client: name, role, whether revoked, when made."""
    return [dict(r) for r in db.query(
        "SELECT name, role, disabled, created_at FROM api_clients ORDER BY name")]


def revoke_api_client(db: sqlite_utils.Database, name: str) -> None:
    """Revoke a machine client's token: the next request carrying it gets 401."""
    cur = db.execute("UPDATE api_clients SET disabled = 1 WHERE name = ?", [name])
    if not cur.rowcount:
        raise UserError(f"no API client {name!r}; `vigie hub token list` shows them")
    log.info("API client %s revoked", name)


def api_client_for(db: sqlite_utils.Database, token: str) -> tuple[str, str] | None:
    """(name, role) of the enabled API client holding this token."""
    rows = list(db.query("SELECT name, role FROM api_clients WHERE token_sha256 = ? AND disabled = 0",
                         [_sha(token)]))
    return (str(rows[0]["name"]), str(rows[0]["role"])) if rows else None
