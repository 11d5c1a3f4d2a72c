"""The studio API: every role against every endpoint, and the abuse cases of the issue.

Roles: the public, the operator, an organisation's admin and member (acme), a member of
another organisation (globex), the talent (alice's own account) and another talent. Each cell
of the matrix is asserted allowed (2xx) or denied (401/403/404, never a leak).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from skimage import data

from likeness import faces, swap
from likeness.settings import Settings
from likeness.studio.app import create_app
from likeness.vault import FacesetItem, init_vault
from likeness.vault import accounts as parties
from likeness.vault.talent_keys import load_key_file, new_key_file, sign_payload

PASSWORD = "a long enough password"


class Client:
    """A logged-in (or public) client: sends the CSRF token it got at login on every write."""

    def __init__(self, app, username: str | None) -> None:  # noqa: ANN001
        self.http = TestClient(app)
        self.headers: dict[str, str] = {}
        if username:
            r = self.http.post("/api/v1/sessions", json={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            self.headers = {"X-CSRF-Token": r.json()["csrf_token"]}

    def __getattr__(self, method: str):  # noqa: ANN204
        def call(path: str, **kw):  # noqa: ANN202
            if method != "get":
                kw.setdefault("headers", {}).update(self.headers)
            return getattr(self.http, method)(path, **kw)

        return call


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    home = tmp_path_factory.mktemp("studio")
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'vault.db'}", passphrase="vault pass", talent_passphrase="t")
    vault = init_vault(settings, studio="operator-studio", scrypt_n=1024)
    pem, _ = new_key_file("talent secret")
    key = load_key_file(pem, "talent secret")
    with faces.FaceAnalyzer() as analyzer:
        made = swap.make_faceset([data.astronaut()], analyzer, identity="alice")
        vault.enrol("alice", [FacesetItem(i.image, i.landmarks, i.pose, i.embedding, i.quality) for i in made.items], owner=key)
    parties.add_account(vault, "root", PASSWORD, kind="operator", by="test")
    for org in ("acme", "globex"):
        parties.add_organisation(vault, org, by="test")
    parties.add_account(vault, "acme-admin", PASSWORD, kind="organisation", organisation="acme", org_role="admin", by="test")
    parties.add_account(vault, "acme-member", PASSWORD, kind="organisation", organisation="acme", org_role="member", by="test")
    parties.add_account(vault, "globex-member", PASSWORD, kind="organisation", organisation="globex", org_role="member", by="test")
    parties.add_account(vault, "alice", PASSWORD, kind="talent", by="test")
    parties.add_account(vault, "zed", PASSWORD, kind="talent", by="test")
    parties.represent(vault, "alice", "alice", "self", by="test")
    app = create_app(vault, max_upload_bytes=4 << 20)
    clients = {name: Client(app, None if name == "public" else name)
               for name in ("public", "root", "acme-admin", "acme-member", "globex-member", "alice", "zed")}
    # Alice lists herself; acme asks; alice signs; acme uploads.
    assert clients["alice"].put("/api/v1/identities/alice/listing", json={"listed": True}).status_code == 200
    ask = clients["acme-member"].post("/api/v1/licence-requests", json={"identity": "alice", "scopes": ["film"], "expires": "2030-01-01",
                                                                     "max_renders": 5, "purpose": "trailer"}).json()
    payload = clients["alice"].get(f"/api/v1/licence-requests/{ask['id']}").json()["to_sign"]["payload"]
    text, signature = sign_payload(key, json.loads(payload))
    assert text == payload
    grant = clients["alice"].post(f"/api/v1/licence-requests/{ask['id']}/sign", json={"signature": signature}).json()
    target = home / "target.png"
    Image.fromarray(data.astronaut()).save(target)
    upload = clients["acme-member"].post("/api/v1/uploads", files={"file": ("target.png", target.read_bytes(), "image/png")}).json()
    second = clients["acme-member"].post("/api/v1/licence-requests", json={"identity": "alice", "scopes": ["game"], "expires": "2030-01-01"}).json()
    yield {"vault": vault, "app": app, "clients": clients, "grant": grant, "upload": upload, "request": ask, "pending": second,
           "key": key, "home": home, "signature": signature}
    vault.close()


ROLES = ("public", "root", "acme-admin", "acme-member", "globex-member", "alice", "zed")


def _cells(w):  # noqa: ANN001, ANN202
    g, u, r, p = w["grant"]["id"], w["upload"]["id"], w["request"]["id"], w["pending"]["id"]
    job = {"upload": u, "identity": "alice", "grant": g, "scope": "film"}
    return [
        # (name, method, path, kwargs, roles allowed)
        ("me", "get", "/api/v1/me", {}, {"root", "acme-admin", "acme-member", "globex-member", "alice", "zed"}),
        ("list accounts", "get", "/api/v1/accounts", {}, {"root", "acme-admin"}),
        ("add organisation", "post", "/api/v1/organisations", {"json": {"name": "new-org-{role}"}}, {"root"}),
        ("list organisations", "get", "/api/v1/organisations", {}, {"root", "acme-admin", "acme-member", "globex-member", "alice", "zed"}),
        ("add member", "post", "/api/v1/accounts", {"json": {"username": "m-{role}", "password": PASSWORD, "kind": "organisation",
                                                              "organisation": "acme", "org_role": "member"}}, {"root", "acme-admin"}),
        ("list identities", "get", "/api/v1/identities", {}, {"root", "acme-admin", "acme-member", "globex-member", "alice", "zed"}),
        ("show alice", "get", "/api/v1/identities/alice", {}, {"root", "acme-admin", "acme-member", "globex-member", "alice"}),
        ("set listing", "put", "/api/v1/identities/alice/listing", {"json": {"listed": True}}, {"alice"}),
        ("ask licence", "post", "/api/v1/licence-requests", {"json": {"identity": "alice", "scopes": ["film"], "expires": "2030-01-01"}},
         {"acme-admin", "acme-member", "globex-member"}),
        ("show request", "get", f"/api/v1/licence-requests/{r}", {}, {"root", "acme-admin", "acme-member", "alice"}),
        ("decline request", "post", f"/api/v1/licence-requests/{p}/decline", {"json": {"reason": "no"}}, {"alice"}),
        ("list grants", "get", "/api/v1/grants", {}, {"root", "acme-admin", "acme-member", "globex-member", "alice", "zed"}),
        ("show grant", "get", f"/api/v1/grants/{g}", {}, {"root", "acme-admin", "acme-member", "alice"}),
        ("revocation to sign", "get", f"/api/v1/grants/{g}/revocation", {}, {"alice"}),
        ("list uploads", "get", "/api/v1/uploads", {}, {"acme-admin", "acme-member", "globex-member"}),
        ("queue job", "post", "/api/v1/jobs", {"json": job}, {"acme-admin", "acme-member"}),
        ("list jobs", "get", "/api/v1/jobs", {}, {"root", "acme-admin", "acme-member", "globex-member"}),
        ("list outputs", "get", "/api/v1/outputs", {}, {"root", "acme-admin", "acme-member", "globex-member", "alice", "zed"}),
        ("audit", "get", "/api/v1/audit", {}, {"root"}),
        ("held enrolments", "get", "/api/v1/enrolment-reviews", {}, {"root"}),
        ("audit head", "get", "/api/v1/audit/head", {}, {"root", "alice", "zed"}),
        ("verify", "post", "/api/v1/verify", {"files": {"file": ("x.png", b"", "image/png")}}, set(ROLES)),
    ]


def _format(kwargs: dict, role: str) -> dict:
    return json.loads(json.dumps(kwargs).replace("{role}", role)) if "json" in kwargs else kwargs


def test_every_role_against_every_endpoint(world):
    failures = []
    for name, method, path, kwargs, allowed in _cells(world):
        for role in ROLES:
            response = getattr(world["clients"][role], method)(path, **_format(kwargs, role))
            ok = 200 <= response.status_code < 300 or (name == "verify" and response.status_code == 400)
            denied = response.status_code in (401, 403, 404)
            if (role in allowed and not ok) or (role not in allowed and not denied):
                failures.append(f"{name} as {role}: {response.status_code} {response.text[:160]}")
            if denied:
                assert response.headers["content-type"].startswith("application/problem+json")
    assert not failures, "\n".join(failures)


def test_an_unlisted_identity_does_not_exist_for_an_organisation(world):
    clients = world["clients"]
    assert clients["alice"].put("/api/v1/identities/alice/listing", json={"listed": False}).status_code == 200
    try:
        hidden = clients["globex-member"].get("/api/v1/identities/alice")
        missing = clients["globex-member"].get("/api/v1/identities/nobody")
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json()["detail"].replace("alice", "X") == missing.json()["detail"].replace("nobody", "X")
        ask = clients["globex-member"].post("/api/v1/licence-requests", json={"identity": "alice", "scopes": ["film"], "expires": "2030-01-01"})
        assert ask.status_code == 404
        assert clients["globex-member"].get("/api/v1/identities").json()["total"] == 0
    finally:
        clients["alice"].put("/api/v1/identities/alice/listing", json={"listed": True})


def test_a_job_under_another_organisations_grant_is_403_and_audited(world):
    clients = world["clients"]
    target = world["home"] / "target.png"
    upload = clients["globex-member"].post("/api/v1/uploads", files={"file": ("t.png", target.read_bytes(), "image/png")}).json()
    refused = clients["globex-member"].post("/api/v1/jobs", json={"upload": upload["id"], "identity": "alice", "grant": world["grant"]["id"]})
    # Grant ids are printed in every file made under them: the refusal names neither the face nor its licensee.
    assert refused.status_code == 403 and refused.json()["detail"] == f"refused: globex holds no grant {world['grant']['id']}"
    last = [e for e in world["vault"].audit_entries() if e.event == "job.refused"][-1]
    assert any("'acme', not 'globex'" in r for r in last.data["reasons"])  # the audit keeps why
    assert last.data["organisation"] == "globex" and last.data["by"] == "globex-member"
    stolen = clients["globex-member"].post("/api/v1/jobs", json={"upload": world["upload"]["id"], "identity": "alice", "grant": world["grant"]["id"]})
    assert stolen.status_code == 404  # another organisation's upload does not exist for globex


def test_bad_input_and_abuse(world):
    clients = world["clients"]
    big = clients["acme-member"].post("/api/v1/uploads", files={"file": ("big.png", b"\0" * (5 << 20), "image/png")})
    assert big.status_code == 413 and str(4 << 20) in big.json()["detail"]
    text = clients["acme-member"].post("/api/v1/uploads", files={"file": ("notes.png", b"hello", "image/png")})
    assert text.status_code == 415
    exe = clients["acme-member"].post("/api/v1/uploads", files={"file": ("tool.exe", b"MZ", "application/octet-stream")})
    assert exe.status_code == 415
    coffee = world["home"] / "coffee.png"
    Image.fromarray(data.coffee()).save(coffee)
    no_face = clients["acme-member"].post("/api/v1/uploads", files={"file": ("coffee.png", coffee.read_bytes(), "image/png")}).json()
    refused = clients["acme-member"].post("/api/v1/jobs", json={"upload": no_face["id"], "identity": "alice", "grant": world["grant"]["id"]})
    assert refused.status_code == 422 and "no face" in refused.json()["detail"]
    # CSRF: a session without its token cannot write; an expired or forged cookie is 401.
    bare = TestClient(world["app"])
    assert bare.post("/api/v1/sessions", json={"username": "acme-member", "password": PASSWORD}).status_code == 200
    no_csrf = bare.post("/api/v1/licence-requests", json={"identity": "alice", "scopes": ["film"], "expires": "2030-01-01"})
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.json()["detail"]
    forged = TestClient(world["app"], cookies={"likeness_session": "forged"})
    assert forged.get("/api/v1/me").status_code == 401
    # A forged signature on a licence request, and a replayed one on another request.
    other = clients["acme-member"].post("/api/v1/licence-requests", json={"identity": "alice", "scopes": ["advertising"], "expires": "2030-01-01"}).json()
    bad = clients["alice"].post(f"/api/v1/licence-requests/{other['id']}/sign", json={"signature": "A" * 88})
    assert bad.status_code == 403 and "does not verify" in bad.json()["detail"]
    replayed = clients["alice"].post(f"/api/v1/licence-requests/{other['id']}/sign", json={"signature": world["signature"]})
    assert replayed.status_code == 403 and "does not verify" in replayed.json()["detail"]  # a real signature, of another request
    # Throttled logins.
    for _ in range(5):
        TestClient(world["app"]).post("/api/v1/sessions", json={"username": "zed", "password": "wrong password!"})
    throttled = TestClient(world["app"]).post("/api/v1/sessions", json={"username": "zed", "password": PASSWORD})
    assert throttled.status_code == 429 and throttled.headers.get("retry-after") == "300"


def test_openapi_document_lists_every_resource(world):
    spec = TestClient(world["app"]).get("/api/v1/openapi.json").json()
    paths = set(spec["paths"])
    for resource in ("/api/v1/sessions", "/api/v1/accounts", "/api/v1/organisations", "/api/v1/identities", "/api/v1/licence-requests",
                     "/api/v1/grants", "/api/v1/uploads", "/api/v1/jobs", "/api/v1/jobs/{job_id}/events", "/api/v1/outputs",
                     "/api/v1/outputs/{output_id}/approve", "/api/v1/audit", "/api/v1/verify",
                     "/api/v1/enrolment-reviews", "/api/v1/enrolment-reviews/{name}"):
        assert resource in paths, resource


def test_nothing_of_the_studio_is_world_readable(world):
    for path in Path(world["home"]).rglob("*"):
        if path.name.endswith((".png",)) and path.parent == world["home"]:
            continue  # the test's own target files
        mode = path.stat().st_mode & 0o777
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"


def test_a_held_output_waits_for_the_talent_and_approval_is_idempotent(world):
    from likeness.vault import deliveries

    vault, clients = world["vault"], world["clients"]
    held = deliveries.add_output(vault, job_id="job-held", organisation="acme", identity="alice", grant_id=world["grant"]["id"],
                                 render_id="00000000000000ff", path=str(world["home"] / "target.png"), held=True)
    assert clients["acme-member"].get(f"/api/v1/outputs/{held.id}/download").status_code == 403
    assert clients["globex-member"].get(f"/api/v1/outputs/{held.id}/download").status_code == 404
    assert clients["acme-member"].post(f"/api/v1/outputs/{held.id}/approve").status_code == 403
    for _ in range(2):  # a double click
        approved = clients["alice"].post(f"/api/v1/outputs/{held.id}/approve")
        assert approved.status_code == 200 and approved.json()["held"] is False
    assert [e.event for e in vault.audit_entries()].count("output.approve") == 1
    assert clients["acme-member"].get(f"/api/v1/outputs/{held.id}/download").status_code == 200


def test_the_talent_reads_every_decision_about_their_identity(world):
    clients = world["clients"]
    history = clients["alice"].get("/api/v1/identities/alice/history").json()
    events = {e["event"] for e in history["items"]}
    assert {"identity.listing", "licence.request", "licence.signed", "grant.create"} <= events
    assert clients["zed"].get("/api/v1/identities/alice/history").status_code == 404
    assert clients["acme-member"].get("/api/v1/identities/alice/history").status_code == 404


def test_a_talent_signs_up_and_enrols_with_a_key_made_elsewhere(world, tmp_path):
    """What the browser does: sign up, make a key, sign the enrolment statement, send photos."""
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    public = TestClient(world["app"])
    assert public.post("/api/v1/signup", json={"username": "carol", "password": PASSWORD}).status_code == 201
    carol = Client(world["app"], "carol")
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes_raw()
    to_sign = carol.post("/api/v1/identities/enrolment-statement", json={"name": "carol", "public_key": base64.b64encode(raw).decode()}).json()
    text, signature = sign_payload(key, json.loads(to_sign["payload"]))
    photo = tmp_path / "carol.jpg"
    from conftest import shared

    Image.open(shared("syn_SFHQ_pt1_00000161.jpg")).save(photo)
    forged = carol.post("/api/v1/identities", data={"statement": text, "signature": "A" * 88},
                        files=[("files", ("carol.jpg", photo.read_bytes(), "image/jpeg"))])
    assert forged.status_code == 403 and "does not verify" in forged.json()["detail"]
    made = carol.post("/api/v1/identities", data={"statement": text, "signature": signature},
                      files=[("files", ("carol.jpg", photo.read_bytes(), "image/jpeg"))])
    assert made.status_code == 201, made.text
    assert made.json()["owner_key"] == json.loads(text)["fingerprint"]
    assert carol.get("/api/v1/me").json()["identities"] == {"carol": "self"}
    again = carol.post("/api/v1/identities", data={"statement": text, "signature": signature},
                       files=[("files", ("carol.jpg", photo.read_bytes(), "image/jpeg"))])
    assert again.status_code in (400, 403)  # a replayed statement enrols nothing twice
    with world["vault"].engine.begin() as connection:  # the private key never reached the server
        row = connection.exec_driver_sql("SELECT owner_key, owner_kdf FROM identities WHERE name = 'carol'").one()
    assert bytes(row[0]) == b"" and row[1] == "held-by-talent"


def test_api_answers_are_never_cached_and_unknown_paths_are_problems(world):
    clients = world["clients"]
    assert clients["alice"].get("/api/v1/grants").headers["cache-control"] == "no-store"
    missing = clients["public"].get("/api/v1/no-such-thing")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")


def test_faceset_thumbnails_are_the_talents_alone_and_never_cached(world):
    clients = world["clients"]
    shown = clients["alice"].get("/api/v1/identities/alice/thumbnails/0")
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    assert "no-store" in shown.headers["cache-control"]
    for role in ("root", "acme-member", "zed", "public"):
        assert clients[role].get("/api/v1/identities/alice/thumbnails/0").status_code in (401, 403, 404)
    assert clients["alice"].get("/api/v1/identities/alice/thumbnails/99").status_code == 404
