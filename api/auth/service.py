"""Passwords (argon2), users and expiring login sessions with a CSRF token each."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.auth.models import Role, StaffSession, StaffUser

_HASHER = PasswordHasher()
_USERNAME_RE = re.compile(r"^[a-z0-9_.-]{3,64}$")
MIN_PASSWORD_CHARS = 12


class AccountError(ValueError):
    """A user cannot be created as asked (bad name, weak password, taken)."""


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    return secrets.token_urlsafe(15)


def create_user(session: Session, username: str, role: Role, password: str) -> StaffUser:
    if not _USERNAME_RE.match(username):
        raise AccountError("username: 3-64 lower-case letters, digits, '.', '_' or '-'")
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"password: at least {MIN_PASSWORD_CHARS} characters")
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise AccountError(f"user {username!r} already exists")
    user = StaffUser(username=username, role=role, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    return user


def login_candidate(session: Session, username: str) -> StaffUser | None:
    """The active account a login names, if any (its password still to be checked)."""
    user = session.scalar(select(StaffUser).where(StaffUser.username == username))
    return user if user is not None and user.active else None


async def password_matches(password_hash: str | None, password: str) -> bool:
    """Check a password on the logins' own threads; an unknown account costs the same."""
    loop = asyncio.get_running_loop()
    checked = password_hash or _DUMMY_HASH
    matched = await loop.run_in_executor(_PASSWORD_POOL, verify_password, checked, password)
    return matched and password_hash is not None


_DUMMY_HASH = _HASHER.hash("not-a-real-password")
# argon2 is slow on purpose: logins get two threads of their own, so a burst of them (or a
# password-guessing run) never holds the threads that answer citizens
_PASSWORD_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="argon2")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite drops the zone


@dataclass(frozen=True)
class LoginSession:
    token: str  # goes into the HttpOnly cookie; only its hash is stored
    csrf_token: str
    expires_at: datetime


def open_session(session: Session, user: StaffUser, ttl_s: int) -> LoginSession:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    expires = datetime.now(UTC) + timedelta(seconds=ttl_s)
    session.execute(delete(StaffSession).where(StaffSession.expires_at < datetime.now(UTC)))
    session.add(
        StaffSession(
            token_hash=_digest(token), csrf_token=csrf, user_id=user.id, expires_at=expires
        )
    )
    return LoginSession(token, csrf, expires)


@dataclass(frozen=True)
class Staff:
    username: str
    role: Role
    csrf_token: str

    def may(self, needed: Role) -> bool:
        return self.role.rank >= needed.rank


def resolve_session(session: Session, token: str) -> Staff | None:
    row = session.scalar(select(StaffSession).where(StaffSession.token_hash == _digest(token)))
    if row is None:
        return None
    if _aware(row.expires_at) <= datetime.now(UTC):
        session.delete(row)
        return None
    user = session.get(StaffUser, row.user_id)
    if user is None or not user.active:
        return None
    return Staff(user.username, user.role, row.csrf_token)


def close_session(session: Session, token: str) -> None:
    session.execute(delete(StaffSession).where(StaffSession.token_hash == _digest(token)))


def _user(session: Session, username: str) -> StaffUser:
    user = session.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None:
        raise AccountError(f"user {username!r} does not exist")
    return user


def revoke_sessions(session: Session, username: str) -> int:
    """Sign the user out everywhere; how many sessions were open."""
    user = _user(session, username)
    result = session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
    return int(getattr(result, "rowcount", 0) or 0)


def set_active(session: Session, username: str, active: bool) -> StaffUser:
    """Disable (and sign out) or re-enable an account; nothing is deleted."""
    user = _user(session, username)
    user.active = active
    if not active:
        revoke_sessions(session, username)
    return user


def reset_password(session: Session, username: str) -> str:
    """A new generated password (to show once); every open session of the user ends."""
    user = _user(session, username)
    password = generate_password()
    user.password_hash = hash_password(password)
    revoke_sessions(session, username)
    return password
