"""The studio's whole story over HTTP, as the README tells it with curl: the operator adds a
talent account and an organisation, the organisation asks for a licence, the talent signs it
with the CLI on their own machine, the organisation uploads, queues, watches, downloads a tagged
output, the public verify endpoint recognises it; after the talent revokes, the next job is refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

from fastapi.testclient import TestClient
from PIL import Image
from skimage import data

from likeness import faces, media, swap
from likeness.settings import Settings
from likeness.studio.app import create_app
from likeness.studio.worker import run_worker
from likeness.vault import FacesetItem, init_vault
from likeness.vault import accounts as parties
from likeness.vault.talent_keys import load_key_file
from test_studio_api import PASSWORD, Client

TALENT_PASS = "the talent's own passphrase"


def _cli(*args: str, home) -> subprocess.CompletedProcess:  # noqa: ANN001
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LIKENESS_HOME": str(home), "LIKENESS_TALENT_PASSPHRASE": TALENT_PASS}
    return subprocess.run([sys.executable, "-m", "likeness.cli.main", *args], capture_output=True, text=True, env=env, timeout=300)


def test_the_whole_story(tmp_path):
    talent_home = tmp_path / "talent-machine"  # the talent's own machine: no vault there
    talent_home.mkdir()
    made = _cli("talent", "keygen", "-o", str(talent_home / "alice.key"), home=talent_home)
    assert made.returncode == 0, made.stderr
    key = load_key_file((talent_home / "alice.key").read_bytes(), TALENT_PASS)

    home = tmp_path / "studio"
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'vault.db'}", passphrase="vault pass")
    vault = init_vault(settings, studio="ops", scrypt_n=1024)
    with faces.FaceAnalyzer() as analyzer:
        faceset = swap.make_faceset([data.astronaut()], analyzer, identity="alice")
        vault.enrol("alice", [FacesetItem(i.image, i.landmarks, i.pose, i.embedding, i.quality) for i in faceset.items], owner=key)
    assert vault.identity("alice").fingerprint in made.stdout  # only the public half reached the vault
    parties.add_account(vault, "root", PASSWORD, kind="operator", by="cli")
    app = create_app(vault)
    root = Client(app, "root")
    assert root.post("/api/v1/organisations", json={"name": "acme"}).status_code == 201
    for body in ({"username": "bob", "password": PASSWORD, "kind": "organisation", "organisation": "acme", "org_role": "admin"},
                 {"username": "alice", "password": PASSWORD, "kind": "talent"}):
        assert root.post("/api/v1/accounts", json=body).status_code == 201
    assert root.post("/api/v1/accounts/alice/identities", json={"identity": "alice", "role": "self"}).status_code == 201
    alice, bob = Client(app, "alice"), Client(app, "bob")
    assert alice.put("/api/v1/identities/alice/listing", json={"listed": True, "named": True}).status_code == 200

    ask = bob.post("/api/v1/licence-requests", json={"identity": "alice", "scopes": ["advertising"], "expires": "2030-01-01",
                                                      "max_renders": 3, "visible_label": True, "purpose": "spring campaign"}).json()
    request_file = talent_home / "request.json"
    request_file.write_text(json.dumps(alice.get(f"/api/v1/licence-requests/{ask['id']}").json()["to_sign"]))
    signed = _cli("sign", str(request_file), "--key", str(talent_home / "alice.key"), home=talent_home)
    assert signed.returncode == 0, signed.stderr
    assert "'alice' -> 'acme'" in signed.stderr  # the talent sees what they sign
    grant = alice.post(f"/api/v1/licence-requests/{ask['id']}/sign", json={"signature": json.loads(signed.stdout)["signature"]}).json()
    assert grant["grantee"] == "acme" and grant["max_renders"] == 3

    target = tmp_path / "target.png"
    Image.fromarray(data.astronaut()).save(target)
    upload = bob.post("/api/v1/uploads", files={"file": ("target.png", target.read_bytes(), "image/png")}).json()
    job = bob.post("/api/v1/jobs", json={"upload": upload["id"], "identity": "alice", "grant": grant["id"], "scope": "advertising"}).json()
    assert job["state"] == "queued"
    worker = threading.Thread(target=run_worker, args=(vault,), kwargs={"once": True, "poll_s": 0.1})
    worker.start()
    with bob.http.stream("GET", f"/api/v1/jobs/{job['id']}/events") as events:
        seen = [json.loads(line[6:]) for line in events.iter_lines() if line.startswith("data: ")]
    worker.join(timeout=300)
    assert seen[-1]["state"] == "succeeded", seen[-1]
    assert len(seen) >= 2 and seen[0]["state"] in ("queued", "running")  # the stream followed the job to its end
    output_id = bob.get(f"/api/v1/jobs/{job['id']}").json()["output"]
    download = bob.get(f"/api/v1/outputs/{output_id}/download")
    assert download.status_code == 200 and download.headers["cache-control"] == "no-store"
    (tmp_path / "out.png").write_bytes(download.content)
    assert media.read_image(tmp_path / "out.png").shape == data.astronaut().shape

    public = TestClient(app).post("/api/v1/verify", files={"file": ("out.png", download.content, "image/png")}).json()
    assert public["verdict"] == "intact" and public["consent"]["ok"] and public["consent"]["n"] == 1
    assert public["licence"]["organisation"] == "acme" and public["licence"]["scope"] == "advertising"
    assert public["consent"]["identity"] == "alice"  # she chose to be named
    assert public["render"]["render_id"] == download.headers["content-disposition"].split("likeness-")[1][:16]

    # The talent revokes (signing on their machine): the next job is refused.
    revocation_file = talent_home / "revocation.json"
    revocation_file.write_text(json.dumps(alice.get(f"/api/v1/grants/{grant['id']}/revocation?reason=campaign+over").json()))
    signed = json.loads(_cli("sign", str(revocation_file), "--key", str(talent_home / "alice.key"), home=talent_home).stdout)
    revoked = alice.post(f"/api/v1/grants/{grant['id']}/revoke", json=signed)
    assert revoked.status_code == 200 and revoked.json()["head"]["seq"] > 0  # a signed head as her receipt
    refused = bob.post("/api/v1/jobs", json={"upload": upload["id"], "identity": "alice", "grant": grant["id"], "scope": "advertising"})
    assert refused.status_code == 403 and "revoked" in refused.json()["detail"]
    vault.close()
