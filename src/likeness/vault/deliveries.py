"""Uploaded targets and rendered outputs of the studio, as rows naming files under
``LIKENESS_HOME/studio`` (never a served folder): who may see each is decided from these rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from likeness.vault import audit as audit_log
from likeness.vault import schema

if TYPE_CHECKING:
    from likeness.vault.store import Vault


@dataclass(frozen=True)
class Upload:
    id: str
    organisation: str
    account: str
    filename: str
    path: str
    kind: str
    size: int
    sha256: str
    created: str


@dataclass(frozen=True)
class Output:
    id: str
    job_id: str
    organisation: str
    identity: str
    grant_id: str
    render_id: str
    path: str
    held: bool
    approved_by: str | None
    created: str


def add_upload(vault: "Vault", *, organisation: str, account: str, filename: str, path: str, kind: str, size: int, sha256: str,
               upload_id: str | None = None) -> Upload:
    upload_id = upload_id or str(uuid.uuid4())
    with vault.transaction() as connection:
        org = connection.execute(select(schema.organisations.c.id).where(schema.organisations.c.name == organisation)).scalar_one()
        acc = connection.execute(select(schema.accounts.c.id).where(schema.accounts.c.username == account)).scalar_one()
        connection.execute(insert(schema.uploads).values(id=upload_id, organisation_id=org, account_id=acc, filename=filename[:255],
                                                         path=path, kind=kind, size=size, sha256=sha256, created=audit_log.now_iso()))
        vault.append(connection, "upload.add", {"upload": upload_id, "organisation": organisation, "by": account, "bytes": size, "kind": kind})
    return get_upload(vault, upload_id)  # type: ignore[return-value]


def _uploads():  # noqa: ANN202
    u = schema.uploads
    return (select(u, schema.organisations.c.name.label("org_name"), schema.accounts.c.username.label("account_name"))
            .join(schema.organisations, schema.organisations.c.id == u.c.organisation_id)
            .join(schema.accounts, schema.accounts.c.id == u.c.account_id))


def _upload(row: Any) -> Upload:
    return Upload(row.id, row.org_name, row.account_name, row.filename, row.path, row.kind, row.size, row.sha256, row.created)


def get_upload(vault: "Vault", upload_id: str) -> Upload | None:
    with vault.transaction() as connection:
        row = connection.execute(_uploads().where(schema.uploads.c.id == upload_id)).one_or_none()
    return _upload(row) if row else None


def list_uploads(vault: "Vault", *, organisation: str | None, limit: int = 50, offset: int = 0) -> list[Upload]:
    query = _uploads().order_by(schema.uploads.c.created.desc()).limit(limit).offset(offset)
    if organisation is not None:
        query = query.where(schema.organisations.c.name == organisation)
    with vault.transaction() as connection:
        return [_upload(r) for r in connection.execute(query).all()]


def add_output(vault: "Vault", *, job_id: str, organisation: str, identity: str, grant_id: str, render_id: str, path: str, held: bool) -> Output:
    output_id = str(uuid.uuid4())
    with vault.transaction() as connection:
        org = connection.execute(select(schema.organisations.c.id).where(schema.organisations.c.name == organisation)).scalar_one()
        ident = vault.identity_in(connection, identity)
        connection.execute(insert(schema.outputs).values(id=output_id, job_id=job_id, organisation_id=org, identity_id=ident.id,
                                                         grant_id=grant_id, render_id=render_id, path=path, held=int(held),
                                                         created=audit_log.now_iso()))
        vault.append(connection, "output.add", {"output": output_id, "job": job_id, "render_id": render_id, "held": held})
    return get_output(vault, output_id)  # type: ignore[return-value]


def _outputs():  # noqa: ANN202
    o = schema.outputs
    return (select(o, schema.organisations.c.name.label("org_name"), schema.identities.c.name.label("identity_name"))
            .join(schema.organisations, schema.organisations.c.id == o.c.organisation_id)
            .join(schema.identities, schema.identities.c.id == o.c.identity_id))


def _output(row: Any) -> Output:
    return Output(row.id, row.job_id, row.org_name, row.identity_name, row.grant_id, row.render_id, row.path, bool(row.held),
                  row.approved_by, row.created)


def get_output(vault: "Vault", output_id: str) -> Output | None:
    with vault.transaction() as connection:
        row = connection.execute(_outputs().where(schema.outputs.c.id == output_id)).one_or_none()
    return _output(row) if row else None


def output_of_job(vault: "Vault", job_id: str) -> Output | None:
    with vault.transaction() as connection:
        row = connection.execute(_outputs().where(schema.outputs.c.job_id == job_id)).one_or_none()
    return _output(row) if row else None


def list_outputs(vault: "Vault", *, organisation: str | None = None, identities: list[str] | None = None,
                 limit: int = 50, offset: int = 0) -> list[Output]:
    query = _outputs().order_by(schema.outputs.c.created.desc()).limit(limit).offset(offset)
    if organisation is not None:
        query = query.where(schema.organisations.c.name == organisation)
    if identities is not None:
        query = query.where(schema.identities.c.name.in_(identities))
    with vault.transaction() as connection:
        return [_output(r) for r in connection.execute(query).all()]


def approve(vault: "Vault", output_id: str, *, by: str) -> bool:
    """Release a held output; False when it was not held (a second click changes nothing)."""
    with vault.transaction() as connection:
        done = connection.execute(
            update(schema.outputs).where(schema.outputs.c.id == output_id, schema.outputs.c.held == 1).values(held=0, approved_by=by)
        ).rowcount
        if done:
            vault.append(connection, "output.approve", {"output": output_id, "by": by})
    return bool(done)
