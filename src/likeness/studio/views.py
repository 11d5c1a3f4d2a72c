"""What the API shows of each thing: plain dicts, one function per kind, no secrets in any."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from likeness.vault.accounts import Account


def account_view(account: Account) -> dict[str, Any]:
    return {"username": account.username, "kind": account.kind, "organisation": account.organisation,
            "org_role": account.org_role, "identities": account.identities, "created": account.created}


def grant_view(grant: Any, record: Any) -> dict[str, Any]:
    data = dict(grant.payload()) if grant is not None else {"id": record.id, "identity": record.identity, "unreadable": True}
    data.pop("type", None)
    data.update(used=record.used, revoked=record.revocation is not None)
    return data


def request_view(request: Any) -> dict[str, Any]:
    data = asdict(request)
    data["to_sign"] = {"likeness": "to-sign/1", "payload": request.payload} if request.state == "pending" else None
    data.pop("payload")
    return data


def job_view(job: Any) -> dict[str, Any]:
    data = asdict(job)
    for hidden in ("target", "output"):
        data.pop(hidden, None)  # server paths are nobody's business
    return data


def output_view(output: Any) -> dict[str, Any]:
    data = asdict(output)
    data.pop("path")
    data["download"] = f"/api/v1/outputs/{output.id}/download"
    return data


def upload_view(upload: Any) -> dict[str, Any]:
    data = asdict(upload)
    data.pop("path")
    return data


def dumps(data: Any) -> str:
    return json.dumps(data, default=str)
