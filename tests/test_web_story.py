"""The studio's browser pages, driven in a real headless Chromium (Debian's, through Playwright, which
downloads no browser) against a live server: uvicorn in a thread over ``create_app(vault)``, and a
render worker in another thread.

The whole story, as the README tells it with curl, but clicked: the talent signs up and makes her
key in the browser, enrols from a photo and lists herself; the organisation asks for a licence and
the talent signs it on her page; the organisation uploads a clip, queues a render, watches the
frame counter move and downloads the output; the public verify page says it is a signed, intact
output; the talent revokes and the next render is refused on the page. Also: refusals (a member of
an organisation opening /operator, the public opening /talent), an upload over the limit, and the
pages at 390 px wide. Screenshots of each step go to ``test-artifacts/web/``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import threading
import time
from pathlib import Path

import pytest
from PIL import Image
from skimage import data

from likeness import media
from likeness.settings import Settings
from likeness.studio.app import create_app
from likeness.studio.worker import run_worker
from likeness.vault import accounts as parties
from likeness.vault import init_vault

CHROMIUM = os.environ.get("LIKENESS_TEST_CHROMIUM", "/usr/bin/chromium")
if not Path(CHROMIUM).is_file():
    pytest.skip(f"no Chromium at {CHROMIUM} (set LIKENESS_TEST_CHROMIUM)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media"
SHOTS = ROOT / "test-artifacts" / "web"
PASSWORD = "a long enough password"
KEY_PASSPHRASE = "alice's own backup passphrase"
SMALL_LIMIT = 64 << 10
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """uvicorn on 127.0.0.1 in a thread (stopped by ``close``)."""

    def __init__(self, app) -> None:  # noqa: ANN001
        import uvicorn

        port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the live server did not start")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port}"

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    home = tmp_path_factory.mktemp("web-studio")
    vault = init_vault(Settings(home=home, database_url=f"sqlite:///{home / 'vault.db'}", passphrase="vault pass"), studio="ops", scrypt_n=1024)
    parties.add_account(vault, "root", PASSWORD, kind="operator", by="test")
    parties.add_organisation(vault, "acme", by="root")
    parties.add_account(vault, "bob", PASSWORD, kind="organisation", organisation="acme", org_role="admin", by="root")
    parties.add_account(vault, "carol", PASSWORD, kind="organisation", organisation="acme", org_role="member", by="root")
    main, small = LiveServer(create_app(vault)), LiveServer(create_app(vault, max_upload_bytes=SMALL_LIMIT))
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(vault,), kwargs={"stop": stop, "poll_s": 0.2}, daemon=True)
    worker.start()
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield {"vault": vault, "url": main.url, "small": small.url, "home": home}
    stop.set()
    worker.join(timeout=120)
    main.close()
    small.close()
    vault.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


def new_page(browser, width: int = 1280):  # noqa: ANN001, ANN201
    page = browser.new_context(viewport={"width": width, "height": 900}, accept_downloads=True).new_page()
    page.set_default_timeout(60_000)
    return page


def shot(page, name: str) -> None:  # noqa: ANN001
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def log_in(page, url: str, username: str, landing: str) -> None:  # noqa: ANN001
    page.goto(f"{url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}{landing}")
    page.wait_for_selector("body[data-ready]")


def alert(page) -> str:  # noqa: ANN001
    page.wait_for_selector("#alert:not([hidden])")
    return page.inner_text("#alert")


def photo(tmp_path: Path) -> Path:
    found = MEDIA / "syn_SFHQ_pt1_00000161.jpg"
    if found.is_file():
        return found
    path = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    return path


def test_the_whole_story_in_the_browser(world, browser, tmp_path):
    url, vault = world["url"], world["vault"]

    # 1. The talent signs up, makes her key in the browser, enrols from a photo and lists herself.
    alice = new_page(browser)
    alice.goto(f"{url}/signup")
    alice.get_by_label("Username").fill("alice")
    alice.get_by_label("Password").fill(PASSWORD)
    alice.get_by_role("button", name="Sign up").click()
    alice.wait_for_url(f"{url}/talent")
    alice.wait_for_selector("body[data-ready]")
    assert alice.is_visible("#key-none")
    alice.locator("#make-key").get_by_label("Backup passphrase").fill(KEY_PASSPHRASE)
    alice.locator("#make-key").get_by_label("Passphrase again").fill(KEY_PASSPHRASE)
    with alice.expect_download() as made:
        alice.get_by_role("button", name="Make my key and download its backup").click()
    backup_path = tmp_path / made.value.suggested_filename
    made.value.save_as(backup_path)
    backup = json.loads(backup_path.read_text())
    assert backup["kdf"] == {"name": "PBKDF2", "hash": "SHA-256", "iterations": 600000, "salt": backup["kdf"]["salt"]}
    assert backup["cipher"]["name"] == "AES-GCM" and len(base64.b64decode(backup["private_key_pkcs8"])) == 48 + 16
    alice.wait_for_selector("#key-held:not([hidden])")
    fingerprint = alice.inner_text("#key-fingerprint").strip()
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint) and backup["fingerprint"] == fingerprint
    held = alice.evaluate("""() => new Promise((resolve) => { const r = indexedDB.open('likeness'); r.onsuccess = () => {
        const g = r.result.transaction('keys').objectStore('keys').get('alice');
        g.onsuccess = async () => { const k = g.result.privateKey; let exported = true;
          try { await crypto.subtle.exportKey('pkcs8', k); } catch (e) { exported = false; }
          resolve({extractable: k.extractable, exported, usages: k.usages}); }; }; })""")
    assert held == {"extractable": False, "exported": False, "usages": ["sign"]}  # the browser signs, never hands it out
    alice.get_by_label("Identity name").fill("alice")
    alice.get_by_label("Photos", exact=True).set_input_files(str(photo(tmp_path)))
    alice.get_by_role("button", name="Sign and enrol").click()
    card = alice.locator('[data-identity="alice"]')
    card.wait_for(timeout=240_000)
    assert vault.identity("alice").fingerprint == fingerprint  # only the public key reached the vault
    assert fingerprint in card.inner_text() and "holds this identity's key" in card.inner_text()
    card.get_by_label("Listed").check()
    card.get_by_label("Named").check()
    card.get_by_role("button", name="Save listing of alice").click()
    alice.wait_for_selector("#status:has-text('alice is listed and named')")
    card.get_by_text("My faceset crops").click()  # her crops, decrypted in memory for her alone
    alice.wait_for_function("() => [...document.querySelectorAll('.thumbs img')].some((i) => i.complete && i.naturalWidth > 0)")
    shot(alice, "01-talent-key-enrolled-listed")

    # The backup restores the same key in another browser profile (the passphrase is all it takes).
    other = new_page(browser)
    log_in(other, url, "alice", "/talent")
    other.locator("#restore-key").get_by_label("Backup file").set_input_files(str(backup_path))
    other.locator("#restore-key").get_by_label("Backup passphrase").fill(KEY_PASSPHRASE)
    other.get_by_role("button", name="Restore my key").click()
    other.wait_for_selector("#key-held:not([hidden])")
    assert other.inner_text("#key-fingerprint").strip() == fingerprint
    other.context.close()

    # 2. The organisation asks for a licence on its page; the talent signs it on hers.
    bob = new_page(browser)
    log_in(bob, url, "bob", "/studio")
    bob.select_option("#ask-identity", "alice")
    bob.get_by_label("advertising").check()
    bob.get_by_label("Until").fill("2030-01-01")
    bob.get_by_label("Most renders (optional)").fill("3")
    bob.get_by_label("Purpose").fill("spring campaign")
    bob.get_by_role("button", name="Send the request").click()
    bob.wait_for_selector("#status:has-text('Request sent to alice')")
    bob.wait_for_selector("#requests td:has-text('pending')")
    shot(bob, "02-studio-licence-requested")
    alice.reload()
    alice.wait_for_selector("body[data-ready]")
    request = alice.locator("[data-request]")
    assert "acme asks to use alice" in request.inner_text() and "spring campaign" in request.inner_text()
    request.get_by_role("button", name="Sign this licence").click()
    alice.wait_for_selector("#status:has-text('Signed: acme may render alice')")
    alice.wait_for_selector("#grants td:has-text('0 of 3')")
    shot(alice, "03-talent-licence-signed")

    # 3. The organisation uploads a clip (a photo when the clip is absent), renders it, watches it, downloads it.
    clip = MEDIA / "grid_bbaf2n.mpg"
    target = clip if clip.is_file() else photo(tmp_path)
    bob.reload()
    bob.wait_for_selector("body[data-ready]")
    bob.locator("#upload-file").set_input_files(str(target))
    bob.get_by_role("button", name="Upload", exact=True).click()
    bob.wait_for_selector(f"#status:has-text('Uploaded {target.name}')")
    assert bob.inner_text("#upload-percent") == "100%"
    assert bob.evaluate("document.getElementById('upload-progress').value") == 1
    bob.select_option("#job-scope", "advertising")
    bob.get_by_role("button", name="Queue the render").click()
    bob.wait_for_selector("#live:not([hidden])")
    counter = bob.locator("#live-frames")
    if target == clip:  # a video: the frame counter moves while it renders
        bob.wait_for_function("() => /Frame \\d+ of \\d+/.test(document.getElementById('live-frames').textContent)", timeout=300_000)
        first = counter.inner_text()
        shot(bob, "04-studio-render-running")
        bob.wait_for_function("(first) => { const t = document.getElementById('live-frames').textContent; "
                              "return /Frame \\d+ of \\d+/.test(t) && t !== first; }", arg=first, timeout=300_000)
        assert counter.inner_text() != first
    bob.wait_for_selector("#live-download:not([hidden])", timeout=600_000)
    assert bob.inner_text("#live-state") == "succeeded"
    with bob.expect_download() as got:
        bob.click("#live-download")
    output = tmp_path / got.value.suggested_filename
    got.value.save_as(output)
    assert output.name.startswith("likeness-") and media.probe(output).kind == ("video" if target == clip else "image")
    if target != clip:
        bob.wait_for_selector("#preview:not([hidden])")
    shot(bob, "05-studio-render-done")

    # 4. The public verify page: a signed, intact output, with who may use it and who signed.
    public = new_page(browser)
    public.goto(f"{url}/verify")
    public.locator("#verify-file").set_input_files(str(output))
    public.wait_for_selector("#result:not([hidden])", timeout=300_000)
    verdict = public.inner_text("#verdict")
    assert "signed, intact" in verdict and "authentic" not in verdict
    details = public.inner_text("#details")
    assert "acme" in details and "advertising" in details and fingerprint in details
    shot(public, "06-verify-intact")

    # 5. The talent revokes on her page; the organisation's next render is refused on its page.
    alice.reload()
    alice.wait_for_selector("body[data-ready]")
    alice.locator("#grants").get_by_label("Reason").fill("campaign over")
    alice.locator("#grants").get_by_role("button", name="Revoke").click()
    alice.wait_for_selector("#status:has-text('Revoked: acme can no longer render alice')")
    alice.wait_for_selector("#grants td strong:has-text('revoked')")
    assert "signed head" in alice.inner_text("#heads") and "entry" in alice.inner_text("#heads")
    alice.get_by_role("button", name="Show its history").click()
    alice.wait_for_selector("#history td:has-text('grant.revoke')")
    assert "licence.signed" in alice.inner_text("#history")
    shot(alice, "07-talent-revoked")
    bob.get_by_role("button", name="Queue the render").click()  # the page still offers the licence it loaded
    refusal = alert(bob)
    assert "refused" in refusal and "revoked" in refusal
    shot(bob, "08-studio-render-refused")

    # The operator sees the queue and checks the audit chain.
    root = new_page(browser)
    log_in(root, url, "root", "/operator")
    assert "succeeded" in root.inner_text("#queue")
    root.get_by_role("button", name="Check the chain").click()
    root.wait_for_selector("#audit-check:has-text('The chain holds')")
    with root.expect_download() as head:
        root.get_by_role("button", name="Download a signed head").click()
    head_path = tmp_path / head.value.suggested_filename
    head.value.save_as(head_path)
    assert vault.check_head(json.loads(head_path.read_text()))[0]
    root.locator("#org-form").get_by_label("Name").fill("globex")
    root.get_by_role("button", name="Add organisation").click()
    root.wait_for_selector("#orgs td:has-text('globex')")
    shot(root, "09-operator")
    for page in (alice, bob, public, root):
        page.context.close()


def test_refusals_are_shown_with_what_to_do_next(world, browser):
    url = world["url"]
    page = new_page(browser)
    page.goto(f"{url}/talent")
    page.wait_for_url(f"{url}/login?next=/talent")  # the public is sent to log in first
    log_in(page, url, "carol", "/studio")
    response = page.goto(f"{url}/operator")
    assert response.status == 403 and response.headers["cache-control"] == "no-store"
    text = page.inner_text("main")
    assert "This page is not for your account" in text and "carol" in text and "Go to your own page" in text
    shot(page, "10-member-opens-operator-403")
    response = page.goto(f"{url}/no/such/page")
    assert response.status == 404 and "There is no page here" in page.inner_text("main")
    assert page.goto(f"{url}/api/v1/no-such").headers["content-type"].startswith("application/")  # the API keeps its own 404
    page.context.close()


def test_an_upload_over_the_limit_is_refused_with_the_limit(world, browser, tmp_path):
    url = world["small"]
    big = tmp_path / "big.png"
    Image.fromarray(data.astronaut()).save(big)  # about 500 KiB, over the 64 KiB limit of this server
    assert big.stat().st_size > SMALL_LIMIT
    page = new_page(browser)
    log_in(page, url, "bob", "/studio")
    page.locator("#upload-file").set_input_files(str(big))
    page.get_by_role("button", name="Upload", exact=True).click()
    assert f"up to 64 KiB ({SMALL_LIMIT} bytes)" in alert(page)  # refused before it is sent
    page.evaluate("delete document.body.dataset.maxUpload")  # as a page that does not know the limit: the server refuses
    page.get_by_role("button", name="Upload", exact=True).click()
    page.wait_for_selector("#alert:has-text('Too large')")
    assert f"limit of {SMALL_LIMIT} bytes" in page.inner_text("#alert")
    shot(page, "11-upload-over-the-limit")
    page.context.close()


@pytest.mark.parametrize("path", ["/verify", "/studio"])
def test_pages_fit_a_phone(world, browser, path):
    page = new_page(browser, width=390)
    if path == "/studio":
        log_in(page, world["url"], "carol", "/studio")
    else:
        page.goto(f"{world['url']}{path}")
    response = page.goto(f"{world['url']}{path}")
    assert response.headers["cache-control"] == "no-store" and "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the screen
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"  # the keyboard starts at the skip link
    shot(page, f"12-phone{path.replace('/', '-')}")
    page.context.close()

