"""The CLI story of issue 3, with LIKENESS_HOME in tmp_path and passphrases from the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import shared
from likeness.cli.main import main


@pytest.fixture
def env(tmp_path: Path, monkeypatch):
    values = {
        "LIKENESS_HOME": str(tmp_path / "home"),
        "LIKENESS_PASSPHRASE": "vault pass",
        "LIKENESS_TALENT_PASSPHRASE": "talent pass",
        "LIKENESS_DATABASE_URL": "",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("LIKENESS_SCRYPT_N", raising=False)
    monkeypatch.delenv("LIKENESS_DEBUG", raising=False)
    return values


def run(capsys, *args: str) -> tuple[int, str, str]:
    """One `likeness` command in-process: exit code, stdout, stderr."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_done_when_flow_init_enrol_grant_revoke_verify_and_bob_refused(env, capsys):
    photo = shared("syn_SFHQ_pt1_00000161.jpg")
    video = shared("syn_motion_SFHQ_pt1_00000161_5s.mp4")
    assert run(capsys, "init")[0] == 0
    code, out, err = run(capsys, "identity", "enroll", "alice", str(photo), str(video), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["identity"] == "alice" and report["kept"] >= 1 and report["examined"] >= 10
    assert report["coverage"]["advice"]
    code, out, err = run(capsys, "grant", "create", "alice", "--grantee", "demo-studio", "--scope", "film", "--expires", "2030-01-01", "--json")
    assert code == 0, err
    grant = json.loads(out)
    assert grant["scopes"] == ["film"] and grant["identity"] == "alice" and grant["expires"].startswith("2030-01-01")
    code, out, err = run(capsys, "grant", "revoke", grant["id"])
    assert code == 0 and "revoked" in out, err
    code, out, err = run(capsys, "audit", "verify")
    assert code == 0 and "intact" in out, err
    code, out, err = run(capsys, "identity", "enroll", "bob", str(photo))
    assert code == 3 and "'alice'" in err and err.count("\n") == 1 and "Traceback" not in err
    code, out, _ = run(capsys, "grant", "show", grant["id"], "--json")
    assert code == 0 and json.loads(out)["revoked"] is True and json.loads(out)["valid_now"] is False
    code, out, _ = run(capsys, "audit", "show", "--json")
    events = [e["event"] for e in json.loads(out)]
    assert events == ["vault.init", "identity.enrol", "grant.create", "grant.revoke"]


def test_grant_commands_round_trip_and_audit_tamper_is_reported(env, capsys, astronaut, tmp_path, monkeypatch):
    from skimage import data

    portrait = Path(data.data_dir) / "astronaut.png"
    monkeypatch.setenv("LIKENESS_SCRYPT_N", "1024")
    assert run(capsys, "init", "--studio", "acme")[0] == 0
    code, out, err = run(capsys, "identity", "enroll", "eileen", str(portrait), "--role", "estate")
    assert code == 0 and "enrolled 'eileen'" in out, err
    code, out, _ = run(capsys, "identity", "list", "--json")
    assert [i["name"] for i in json.loads(out)] == ["eileen"] and json.loads(out)[0]["role"] == "estate"
    code, out, err = run(capsys, "grant", "create", "eileen", "--grantee", "acme", "--scope", "film", "--scope", "education",
                         "--expires", "2031-06-30", "--max-renders", "2", "--visible-label", "--note", "doc", "--json")
    grant = json.loads(out)
    assert grant["signer_role"] == "estate" and grant["max_renders"] == 2
    assert run(capsys, "grant", "check", grant["id"], "--identity", "eileen", "--scope", "film")[0] == 0
    code, out, _ = run(capsys, "grant", "check", grant["id"], "--identity", "eileen", "--scope", "satire")
    assert code == 3 and "not granted" in out
    exported = tmp_path / "grant.json"
    assert run(capsys, "grant", "export", grant["id"], "-o", str(exported))[0] == 0
    code, out, _ = run(capsys, "grant", "import", str(exported), "--json")
    assert code == 0 and json.loads(out)["grant"] == grant["id"]
    code, out, _ = run(capsys, "identity", "show", "eileen", "--json")
    assert json.loads(out)["grants"][0]["id"] == grant["id"]

    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{env['LIKENESS_HOME']}/vault.db")
    with engine.begin() as connection:
        connection.exec_driver_sql("""UPDATE audit SET data = '{"studio":"evil"}' WHERE seq = 1""")
    engine.dispose()
    code, out, err = run(capsys, "audit", "verify")
    assert code == 4 and "entry 1" in err and err.count("\n") == 1
    code, out, err = run(capsys, "identity", "delete", "eileen")
    assert code == 2 and "--yes" in err
    code, out, err = run(capsys, "identity", "delete", "eileen", "--yes")
    assert code == 0 and "deleted" in out
    assert run(capsys, "identity", "list", "--json")[1].strip() == "[]"


def test_wrong_passphrase_in_a_real_process_is_one_line_exit_4(env, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LIKENESS_SCRYPT_N", "1024")
    assert run(capsys, "init")[0] == 0
    done = subprocess.run(
        [sys.executable, "-m", "likeness.cli.main", "audit", "verify"],
        env={**os.environ, "LIKENESS_PASSPHRASE": "wrong"}, capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 4
    assert "wrong vault passphrase" in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    monkeypatch.delenv("LIKENESS_PASSPHRASE")
    code, _, err = run(capsys, "identity", "list")
    assert code == 4 and "LIKENESS_PASSPHRASE" in err
