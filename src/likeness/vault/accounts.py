"""The studio's parties: organisations, accounts (operator, organisation admin/member, talent),
the identities a talent account represents, sessions, API tokens and login throttling.

Passwords are Argon2id hashes; session cookies and API tokens are stored only as SHA-256
hashes, so a database dump logs nobody in. Every change is audited with the account that made it.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, insert, select, update

from likeness.errors import InputError
from likeness.vault import audit as audit_log
from likeness.vault import schema
from likeness.vault.store import ROLES

if TYPE_CHECKING:
    from likeness.vault.store import Vault

KINDS = ("operator", "organisation", "talent")
ORG_ROLES = ("admin", "member")
SESSION_HOURS = 12
MAX_FAILURES = 5  # failed logins per username in THROTTLE_WINDOW before further tries wait
THROTTLE_WINDOW = timedelta(minutes=5)
_HASHER = PasswordHasher()  # Argon2id, the library's defaults (RFC 9106 low-memory profile)


@dataclass(frozen=True)
class Organisation:
    id: str
    name: str
    created: str


@dataclass(frozen=True)
class Account:
    """Who is acting. ``organisation`` is the organisation's name (organisation accounts only);
    ``identities`` maps each identity a talent account represents to its role."""

    id: str
    username: str
    kind: str
    organisation: str | None
    org_role: str | None
    identities: dict[str, str]
    created: str

    def represents(self, identity: str) -> bool:
        return self.kind == "talent" and identity in self.identities


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_username(username: str) -> str:
    username = username.strip()
    if not username or len(username) > 200 or any(ord(c) < 33 for c in username):
        raise InputError(f"username {username!r} must be 1-200 printable characters without spaces")
    return username


def add_organisation(vault: "Vault", name: str, *, by: str | None) -> Organisation:
    name = name.strip()
    if not name or len(name) > 200:
        raise InputError("an organisation name must be 1-200 characters")
    with vault.transaction() as connection:
        if connection.execute(select(schema.organisations.c.id).where(schema.organisations.c.name == name)).first():
            raise InputError(f"organisation {name!r} already exists")
        org = Organisation(str(uuid.uuid4()), name, audit_log.now_iso())
        connection.execute(insert(schema.organisations).values(id=org.id, name=org.name, created=org.created))
        vault.append(connection, "organisation.add", {"organisation": name, "by": by})
    return org


def organisations(vault: "Vault") -> list[Organisation]:
    with vault.transaction() as connection:
        rows = connection.execute(select(schema.organisations).order_by(schema.organisations.c.name)).all()
    return [Organisation(r.id, r.name, r.created) for r in rows]


def find_organisation(vault: "Vault", name: str) -> Organisation | None:
    with vault.transaction() as connection:
        row = connection.execute(select(schema.organisations).where(schema.organisations.c.name == name)).one_or_none()
    return Organisation(row.id, row.name, row.created) if row else None


def add_account(
    vault: "Vault", username: str, password: str, *, kind: str, organisation: str | None = None, org_role: str | None = None,
    by: str | None,
) -> Account:
    """Create an account; organisation accounts name their organisation and role."""
    username = _check_username(username)
    if kind not in KINDS:
        raise InputError(f"account kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if len(password) < 10:
        raise InputError("a password needs at least 10 characters")
    org_id = None
    if kind == "organisation":
        if org_role not in ORG_ROLES:
            raise InputError(f"an organisation account needs a role: {', '.join(ORG_ROLES)}")
        org = find_organisation(vault, organisation or "")
        if org is None:
            raise InputError(f"no organisation {organisation!r}")
        org_id = org.id
    elif organisation or org_role:
        raise InputError("only organisation accounts belong to an organisation")
    account_id = str(uuid.uuid4())
    with vault.transaction() as connection:
        if connection.execute(select(schema.accounts.c.id).where(schema.accounts.c.username == username)).first():
            raise InputError(f"account {username!r} already exists")
        connection.execute(
            insert(schema.accounts).values(
                id=account_id, username=username, kind=kind, organisation_id=org_id, org_role=org_role,
                password_hash=_HASHER.hash(password), created=audit_log.now_iso(), disabled=0,
            )
        )
        vault.append(connection, "account.add", {"account": username, "kind": kind, "organisation": organisation, "role": org_role, "by": by})
    return account(vault, account_id=account_id)  # type: ignore[return-value]


def account(vault: "Vault", *, account_id: str | None = None, username: str | None = None) -> Account | None:
    query = select(schema.accounts, schema.organisations.c.name.label("org_name")).outerjoin(
        schema.organisations, schema.organisations.c.id == schema.accounts.c.organisation_id
    ).where(schema.accounts.c.disabled == 0)
    query = query.where(schema.accounts.c.id == account_id) if account_id else query.where(schema.accounts.c.username == username)
    with vault.transaction() as connection:
        row = connection.execute(query).one_or_none()
        if row is None:
            return None
        reps = connection.execute(
            select(schema.identities.c.name, schema.representatives.c.role)
            .join(schema.identities, schema.identities.c.id == schema.representatives.c.identity_id)
            .where(schema.representatives.c.account_id == row.id, schema.identities.c.status == "active")
        ).all()
    return Account(row.id, row.username, row.kind, row.org_name, row.org_role, {r.name: r.role for r in reps}, row.created)


def accounts(vault: "Vault", *, organisation: str | None = None) -> list[Account]:
    with vault.transaction() as connection:
        query = select(schema.accounts.c.id).where(schema.accounts.c.disabled == 0).order_by(schema.accounts.c.username)
        if organisation is not None:
            org = connection.execute(select(schema.organisations.c.id).where(schema.organisations.c.name == organisation)).scalar_one_or_none()
            query = query.where(schema.accounts.c.organisation_id == org)
        ids = connection.execute(query).scalars().all()
    return [a for a in (account(vault, account_id=i) for i in ids) if a is not None]


def represent(vault: "Vault", username: str, identity: str, role: str, *, by: str | None) -> None:
    """Let a talent account act for ``identity`` (self, guardian, estate or agent)."""
    if role not in ROLES:
        raise InputError(f"role must be one of {', '.join(ROLES)}")
    who = account(vault, username=username)
    if who is None or who.kind != "talent":
        raise InputError(f"no talent account {username!r}")
    with vault.transaction() as connection:
        ident = vault.identity_in(connection, identity, held=True)
        connection.execute(delete(schema.representatives).where(
            schema.representatives.c.account_id == who.id, schema.representatives.c.identity_id == ident.id))
        connection.execute(insert(schema.representatives).values(account_id=who.id, identity_id=ident.id, role=role))
        vault.append(connection, "identity.represent", {"identity": identity, "account": username, "role": role, "by": by})


# -- logging in ---------------------------------------------------------------------------------


def throttled(vault: "Vault", username: str) -> bool:
    """Whether ``username`` failed to log in MAX_FAILURES times within THROTTLE_WINDOW."""
    since = (datetime.now(timezone.utc) - THROTTLE_WINDOW).isoformat()
    with vault.transaction() as connection:
        failures = connection.execute(
            select(func.count()).select_from(schema.login_failures)
            .where(schema.login_failures.c.username == username, schema.login_failures.c.time >= since)
        ).scalar_one()
    return failures >= MAX_FAILURES


def check_password(vault: "Vault", username: str, password: str) -> Account | None:
    """The account when the password is right; a wrong one is counted for throttling and audited."""
    with vault.transaction() as connection:
        row = connection.execute(
            select(schema.accounts.c.id, schema.accounts.c.password_hash)
            .where(schema.accounts.c.username == username, schema.accounts.c.disabled == 0)
        ).one_or_none()
    ok = False
    if row is not None:
        try:
            ok = _HASHER.verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
    else:
        _HASHER.hash(password)  # the same work for an unknown name: timing does not tell which names exist
    with vault.transaction() as connection:
        if not ok:
            connection.execute(insert(schema.login_failures).values(username=username[:200], time=datetime.now(timezone.utc).isoformat()))
            vault.append(connection, "login.fail", {"account": username[:200]})
            return None
        connection.execute(delete(schema.login_failures).where(schema.login_failures.c.username == username))
    return account(vault, account_id=row.id)


def open_session(vault: "Vault", who: Account) -> tuple[str, str]:
    """(session token for the cookie, CSRF token): only the token's hash is stored."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    now = datetime.now(timezone.utc)
    with vault.transaction() as connection:
        connection.execute(insert(schema.sessions).values(
            token_sha256=_sha(token), account_id=who.id, csrf=csrf, created=now.isoformat(),
            expires=(now + timedelta(hours=SESSION_HOURS)).isoformat()))
        vault.append(connection, "login", {"account": who.username})
    return token, csrf


def session(vault: "Vault", token: str) -> tuple[Account, str] | None:
    """(account, CSRF token) of a live session; None when unknown or expired."""
    now = datetime.now(timezone.utc).isoformat()
    with vault.transaction() as connection:
        row = connection.execute(select(schema.sessions).where(schema.sessions.c.token_sha256 == _sha(token))).one_or_none()
    if row is None or row.expires <= now:
        return None
    who = account(vault, account_id=row.account_id)
    return (who, row.csrf) if who else None


def close_session(vault: "Vault", token: str) -> None:
    with vault.transaction() as connection:
        connection.execute(delete(schema.sessions).where(schema.sessions.c.token_sha256 == _sha(token)))


def new_token(vault: "Vault", who: Account, name: str) -> str:
    """An API token for scripts, returned once; stored hashed."""
    token = "lk_" + secrets.token_urlsafe(32)
    with vault.transaction() as connection:
        connection.execute(insert(schema.api_tokens).values(
            id=str(uuid.uuid4()), token_sha256=_sha(token), account_id=who.id, name=name[:200] or "token", created=audit_log.now_iso()))
        vault.append(connection, "token.add", {"account": who.username, "name": name[:200]})
    return token


def token_account(vault: "Vault", token: str) -> Account | None:
    with vault.transaction() as connection:
        account_id = connection.execute(
            select(schema.api_tokens.c.account_id).where(schema.api_tokens.c.token_sha256 == _sha(token))
        ).scalar_one_or_none()
    return account(vault, account_id=account_id) if account_id else None


def disable(vault: "Vault", username: str, *, by: str | None) -> None:
    with vault.transaction() as connection:
        connection.execute(update(schema.accounts).where(schema.accounts.c.username == username).values(disabled=1))
        vault.append(connection, "account.disable", {"account": username, "by": by})
