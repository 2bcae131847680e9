"""asyncpg queries on the auth schema. Every function takes the connection, so a handler decides
what runs in one transaction (the change and its outbox event, for instance)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg

from codex_auth.domain import Role, Session, TokenPurpose, User
from codex_auth.keys import PublishedKey

# A string: asyncpg's classes are generic only in its type stubs, not at run time.
Conn: TypeAlias = "asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]"

# Queries select exactly the fields of User and Session, so a row maps to one by name.


def _user(row: asyncpg.Record) -> User:
    return User(**dict(row))


def _session(row: asyncpg.Record) -> Session:
    return Session(**dict(row))


_SESSION_FIELDS = [field.name for field in dataclasses.fields(Session)]


# Users


async def insert_user(conn: Conn, user: User) -> bool:
    """Insert unless the address has an account already; True when this call created it."""
    created = await conn.fetchval(
        """INSERT INTO users
               (id, email, display_name, role, password_hash, email_verified_at, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
            ON CONFLICT (email) DO NOTHING RETURNING true""",
        user.id, user.email, user.display_name, user.role, user.password_hash,
        user.email_verified_at, user.created_at,
    )  # fmt: skip
    return bool(created)


async def user_by_email(conn: Conn, email: str) -> User | None:
    row = await conn.fetchrow(
        """SELECT id, email, display_name, role, password_hash, email_verified_at, created_at
           FROM users WHERE email = $1""",
        email,
    )
    return None if row is None else _user(row)


async def user_by_id(conn: Conn, user_id: uuid.UUID) -> User | None:
    row = await conn.fetchrow(
        """SELECT id, email, display_name, role, password_hash, email_verified_at, created_at
           FROM users WHERE id = $1""",
        user_id,
    )
    return None if row is None else _user(row)


async def set_password_hash(conn: Conn, user_id: uuid.UUID, password_hash: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1", user_id, password_hash, now
    )


async def password_hash_for_update(conn: Conn, user_id: uuid.UUID) -> str | None:
    """The account's password hash, its row locked until the transaction ends: a reset or change
    that commits meanwhile waits, and one that committed first is seen."""
    password_hash: str | None = await conn.fetchval(
        "SELECT password_hash FROM users WHERE id = $1 FOR UPDATE", user_id
    )
    return password_hash


async def mark_email_verified(conn: Conn, user_id: uuid.UUID, now: datetime) -> User | None:
    """Mark the address verified; the user when this call verified it, None when it already was."""
    row = await conn.fetchrow(
        """UPDATE users SET email_verified_at = $2, updated_at = $2
           WHERE id = $1 AND email_verified_at IS NULL
           RETURNING id, email, display_name, role, password_hash, email_verified_at, created_at""",
        user_id,
        now,
    )
    return None if row is None else _user(row)


async def replace_pending_credentials(
    conn: Conn, user_id: uuid.UUID, password_hash: str, display_name: str, now: datetime
) -> bool:
    """Give an account whose address nobody has confirmed the newest sign-up's password and name;
    False when the address was confirmed meanwhile (then nothing changes)."""
    replaced = await conn.fetchval(
        """UPDATE users SET password_hash = $2, display_name = $3, updated_at = $4
           WHERE id = $1 AND email_verified_at IS NULL RETURNING true""",
        user_id,
        password_hash,
        display_name,
        now,
    )
    return bool(replaced)


async def set_role(conn: Conn, user_id: uuid.UUID, role: Role, now: datetime) -> tuple[Role, User] | None:
    """Change the role; the previous role and the user, or None when there is no such user."""
    row = await conn.fetchrow(
        """UPDATE users u SET role = $2, updated_at = $3
           FROM (SELECT id, role FROM users WHERE id = $1 FOR UPDATE) AS before
           WHERE u.id = before.id
           RETURNING before.role AS previous_role, u.id, u.email, u.display_name, u.role,
                     u.password_hash, u.email_verified_at, u.created_at""",
        user_id,
        role,
        now,
    )
    if row is None:
        return None
    fields = dict(row)
    previous: Role = fields.pop("previous_role")
    return previous, User(**fields)


# Sessions


async def insert_session(conn: Conn, session: Session, token_hash: bytes) -> None:
    await conn.execute(
        """INSERT INTO sessions
               (id, user_id, created_at, extended_at, expires_at, revoked_at, user_agent, ip, token_hash)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        session.id, session.user_id, session.created_at, session.extended_at, session.expires_at,
        session.revoked_at, session.user_agent, session.ip, token_hash,
    )  # fmt: skip


async def session_and_user(
    conn: Conn, *, session_id: uuid.UUID | None = None, token_hash: bytes | None = None
) -> tuple[Session, User] | None:
    """A session, by id or by token hash, with its user: one round trip per authenticated request."""
    if session_id is not None:
        row = await conn.fetchrow(
            """SELECT s.id, s.user_id, s.created_at, s.extended_at, s.expires_at, s.revoked_at,
                      s.user_agent, s.ip, u.email, u.display_name, u.role, u.password_hash,
                      u.email_verified_at, u.created_at AS user_created_at
               FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1""",
            session_id,
        )
    else:
        row = await conn.fetchrow(
            """SELECT s.id, s.user_id, s.created_at, s.extended_at, s.expires_at, s.revoked_at,
                      s.user_agent, s.ip, u.email, u.display_name, u.role, u.password_hash,
                      u.email_verified_at, u.created_at AS user_created_at
               FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1""",
            token_hash,
        )
    if row is None:
        return None
    session = Session(**{name: row[name] for name in _SESSION_FIELDS})
    user = User(
        id=row["user_id"], email=row["email"], display_name=row["display_name"], role=row["role"],
        password_hash=row["password_hash"], email_verified_at=row["email_verified_at"],
        created_at=row["user_created_at"],
    )  # fmt: skip
    return session, user


async def extend_session(conn: Conn, session_id: uuid.UUID, now: datetime, expires_at: datetime) -> None:
    await conn.execute(
        "UPDATE sessions SET extended_at = $2, expires_at = $3 WHERE id = $1 AND revoked_at IS NULL",
        session_id,
        now,
        expires_at,
    )


async def active_sessions(conn: Conn, user_id: uuid.UUID, now: datetime) -> list[Session]:
    rows = await conn.fetch(
        """SELECT id, user_id, created_at, extended_at, expires_at, revoked_at, user_agent, ip FROM sessions
            WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC""",
        user_id,
        now,
    )
    return [_session(row) for row in rows]


async def revoke_session(conn: Conn, session_id: uuid.UUID, user_id: uuid.UUID, now: datetime) -> bool:
    """Revoke one of the user's sessions; False when the user has no such active session."""
    revoked = await conn.fetchval(
        """UPDATE sessions SET revoked_at = $3
           WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $3 RETURNING true""",
        session_id,
        user_id,
        now,
    )
    return bool(revoked)


async def revoke_sessions(
    conn: Conn, user_id: uuid.UUID, now: datetime, *, keep: uuid.UUID | None = None
) -> int:
    """Revoke every active session of the user except `keep`; returns how many."""
    result: str = await conn.execute(
        """UPDATE sessions SET revoked_at = $2
           WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $3""",
        user_id,
        now,
        keep,
    )
    return int(result.split()[-1])


# Single-use tokens


async def insert_one_time_token(
    conn: Conn,
    token_hash: bytes,
    user_id: uuid.UUID,
    purpose: TokenPurpose,
    now: datetime,
    expires_at: datetime,
) -> None:
    """Store a new token; the user's earlier unused tokens for the same purpose stop working."""
    await conn.execute(
        "UPDATE one_time_tokens SET used_at = $3 WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL",
        user_id,
        purpose,
        now,
    )
    await conn.execute(
        """INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at)
           VALUES ($1, $2, $3, $4, $5)""",
        token_hash,
        user_id,
        purpose,
        now,
        expires_at,
    )


async def one_time_token_owner(
    conn: Conn, token_hash: bytes, purpose: TokenPurpose, now: datetime
) -> uuid.UUID | None:
    """Whom a token belongs to while it is still usable, without using it."""
    user_id: uuid.UUID | None = await conn.fetchval(
        """SELECT user_id FROM one_time_tokens
           WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3""",
        token_hash,
        purpose,
        now,
    )
    return user_id


async def consume_one_time_token(
    conn: Conn, token_hash: bytes, purpose: TokenPurpose, now: datetime
) -> uuid.UUID | None:
    """Use a token once: the user it belongs to, or None when unknown, expired or already used."""
    user_id: uuid.UUID | None = await conn.fetchval(
        """UPDATE one_time_tokens SET used_at = $3
           WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3
           RETURNING user_id""",
        token_hash,
        purpose,
        now,
    )
    return user_id


# The signing keys (keyring.py decides when to create, rotate and forget them).
async def signing_candidates(conn: Conn, now: datetime) -> list[tuple[str, bytes, datetime]]:
    """The keys that sign now or will (kid, sealed private key, signs_from): the current key and a
    rotated-in key not signing yet, oldest first."""
    rows = await conn.fetch(
        """SELECT kid, private_key_sealed, signs_from FROM signing_keys
           WHERE retired_at IS NULL OR retired_at > $1 ORDER BY signs_from""",
        now,
    )
    return [(r["kid"], bytes(r["private_key_sealed"]), r["signs_from"]) for r in rows]


async def published_keys(conn: Conn, retired_after: datetime) -> list[PublishedKey]:
    """The keys not retired, and those retired after `retired_after`, newest first."""
    rows = await conn.fetch(
        """SELECT kid, public_key, created_at, retired_at FROM signing_keys
           WHERE retired_at IS NULL OR retired_at > $1 ORDER BY created_at DESC""",
        retired_after,
    )
    return [PublishedKey(r["kid"], bytes(r["public_key"]), r["created_at"], r["retired_at"]) for r in rows]


async def insert_key(
    conn: Conn, kid: str, public_raw: bytes, sealed: bytes, now: datetime, signs_from: datetime
) -> bool:
    """Add the unretired key unless one exists (another replica was first); True when this one was added."""
    added = await conn.fetchval(
        """INSERT INTO signing_keys (kid, public_key, private_key_sealed, created_at, signs_from)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING true""",
        kid,
        public_raw,
        sealed,
        now,
        signs_from,
    )
    return bool(added)


async def retire_unretired_key(conn: Conn, at: datetime) -> str | None:
    """Retire the unretired key as of `at` (it signs until then); its kid, if there was one."""
    kid: str | None = await conn.fetchval(
        "UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL RETURNING kid", at
    )
    return kid


async def delete_keys_retired_before(conn: Conn, cutoff: datetime) -> int:
    result: str = await conn.execute("DELETE FROM signing_keys WHERE retired_at < $1", cutoff)
    return int(result.split()[-1])
