"""Several processes on one vault: kill -9 mid-enrolment leaves no half identity; racing
processes share a quota exactly (the 8-racer test runs in threads, in test_consent.py;
processes here prove the lock holds across separate connections and interpreters)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from likeness.consent import Request, authorize, create_grant, take
from likeness.vault import open_vault
from test_vault_kit import analyzer, astronaut_item, settings, sqlite_settings, sqlite_vault, variants, vault  # noqa: F401

ENROL_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from skimage import data, transform
    from likeness.faces.types import Pose
    from likeness.settings import Settings
    from likeness.vault import FacesetItem, open_vault

    home, url, embedding_hex = sys.argv[1:4]
    embedding = np.frombuffer(bytes.fromhex(embedding_hex), np.float32)
    # The astronaut's face region, rebuilt here so no crop ever passes through a file.
    face = (transform.resize(data.astronaut()[0:260, 120:380], (512, 512)) * 255).astype(np.uint8)
    items = [FacesetItem(np.roll(face, i, axis=1), np.zeros((478, 3), np.float32), Pose(float(i), 0.0, 0.0), embedding) for i in range(80)]
    settings = Settings(home=__import__("pathlib").Path(home), database_url=url, passphrase="vault pass", talent_passphrase="t")
    with open_vault(settings) as vault:
        print("enrolling", flush=True)
        vault.enrol("victim", items, talent_passphrase="t")
    print("committed", flush=True)
    """
)

AUTHORIZE_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from likeness.consent import Request, authorize, take
    from likeness.errors import ConsentError
    from likeness.settings import Settings
    from likeness.vault import open_vault

    home, url, grant_id, go = sys.argv[1:5]
    settings = Settings(home=Path(home), database_url=url, passphrase="vault pass")
    with open_vault(settings) as vault:
        decision = authorize(vault, Request("eileen", grant_id, "film", "render", "demo-studio"))
        while not os.path.exists(go):  # every racer passed its check; now all finish at once
            time.sleep(0.01)
        try:
            outcome = "ALLOWED %d" % take(vault, decision, use="render", data={}).n if decision.allowed else "REFUSED"
        except ConsentError:
            outcome = "LOST"
    print(outcome, flush=True)
    """
)


def test_kill_9_during_enrolment_leaves_no_half_identity(sqlite_vault, sqlite_settings, astronaut_item):
    sqlite_vault.close()
    env = dict(os.environ)
    proc = subprocess.Popen(
        [sys.executable, "-c", ENROL_SCRIPT, str(sqlite_settings.home), sqlite_settings.database_url,
         np.asarray(astronaut_item.embedding, np.float32).tobytes().hex()],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list(sqlite_settings.blobs.glob("*.blob"))) >= 5:
            break
        time.sleep(0.02)
    assert proc.poll() is None, f"enrolment ended before it could be killed: {proc.stderr.read().decode()[-500:]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list(sqlite_settings.blobs.glob("*.blob")), "the kill came before any blob was written"

    with open_vault(sqlite_settings) as vault:
        assert vault.identities() == []  # rows are committed last, all at once
        report = vault.verify_audit()
        assert report.ok and [e.event for e in vault.audit_entries()] == ["vault.init"]
        assert vault.recover(min_age_s=0) > 0  # the stray ciphertext of the killed enrolment
        assert list(sqlite_settings.blobs.iterdir()) == []
        vault.enrol("eileen", variants(astronaut_item, 1), talent_passphrase="t")  # and it still works
        assert vault.verify_audit().ok


def test_eight_processes_race_for_two_slots(vault, settings, astronaut_item, tmp_path):
    """Eight renders checked at once, finishing at once, on two remaining slots: exactly two outputs (SQLite and PostgreSQL)."""
    vault.enrol("eileen", variants(astronaut_item, 1), talent_passphrase="t")
    grant = create_grant(vault, "eileen", grantee="demo-studio", scopes=["film"], expires="2030-01-01", max_renders=3, talent_passphrase="t")
    assert take(vault, authorize(vault, Request("eileen", grant.id, "film", "render", "demo-studio")), use="render", data={}).n == 1
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", AUTHORIZE_SCRIPT, str(settings.home), settings.database_url, grant.id, str(go)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for _ in range(8)
    ]
    deadline = time.time() + 120
    while len(vault.audit_entries()) < 5 + 8 and time.time() < deadline:  # init, enrol, grant, decision, use + 8 decisions
        time.sleep(0.1)
    go.touch()
    outcomes = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err.decode()[-800:]
        outcomes.append(out.decode().strip().splitlines()[-1])
    assert sorted(outcomes) == ["ALLOWED 2", "ALLOWED 3"] + ["LOST"] * 6
    assert vault.grant_record(grant.id).used == 3
    report, facts = vault.chain_facts()
    assert report.ok and facts.uses[grant.id] == [1, 2, 3]
