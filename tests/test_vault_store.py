"""The vault keeps talent data sealed, refuses a wrong passphrase, names damage, shreds on delete."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil

import cv2
import numpy as np
import pytest

from likeness.errors import ConsentError, InputError, VaultError
from likeness.vault import RenderRecord, init_vault, open_vault
from likeness.vault.crypto import associated_data, unseal
from test_vault_kit import TEST_SCRYPT_N, analyzer, astronaut_item, settings, sfhq_items, sqlite_settings, sqlite_vault, variants, vault  # noqa: F401


def _files(settings) -> dict[str, bytes]:
    out = {}
    for path in sorted(settings.home.rglob("*")):
        if path.is_file():
            out[str(path.relative_to(settings.home))] = path.read_bytes()
    return out


def test_open_with_the_right_passphrase_sees_the_studio(vault, settings):
    vault.close()
    with open_vault(settings) as again:
        assert again.studio == "demo-studio"
        chain, key = again.c2pa_signing()
        assert chain.count(b"BEGIN CERTIFICATE") == 2 and b"PRIVATE KEY" in key
        assert again.c2pa_root() in chain


def test_wrong_passphrase_is_one_line_and_changes_nothing(vault, settings):
    vault.close()
    before = _files(settings)
    with pytest.raises(VaultError, match="wrong vault passphrase") as caught:
        open_vault(dataclasses.replace(settings, passphrase="not it"))
    assert "\n" not in str(caught.value)
    if settings.database_url.startswith("sqlite"):
        assert _files(settings) == before
    with open_vault(settings) as again:
        assert again.verify_audit().entries == 1


def test_no_vault_and_no_passphrase_are_clear_errors(sqlite_settings):
    with pytest.raises(VaultError, match="likeness init"):
        open_vault(sqlite_settings)
    with pytest.raises(VaultError, match="LIKENESS_PASSPHRASE"):
        init_vault(dataclasses.replace(sqlite_settings, passphrase=None))


def test_enrolled_crop_and_embedding_never_reach_disk_in_the_clear(sqlite_vault, sqlite_settings, astronaut_item):
    items = variants(astronaut_item, 4)
    sqlite_vault.enrol("eileen", items, talent_passphrase="talent pass")
    crop = items[0].image
    needles = {
        "png": cv2.imencode(".png", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))[1].tobytes()[:4096],
        "row 100": crop[100].tobytes(),
        "row 300": crop[300].tobytes(),
        "embedding f32": np.asarray(astronaut_item.embedding, np.float32).tobytes(),
        "embedding f64": np.asarray(astronaut_item.embedding, np.float64).tobytes(),
        "landmarks": np.asarray(astronaut_item.landmarks, np.float32)[:20].tobytes(),
    }
    sqlite_vault.close()
    files = _files(sqlite_settings)
    assert any(name.startswith("blobs/") for name in files)
    for name, content in files.items():
        for what, needle in needles.items():
            assert needle not in content, f"{what} found in {name}"
    with open_vault(sqlite_settings) as again:
        faceset = again.faceset("eileen")
    assert len(faceset) == 4
    assert np.array_equal(faceset.items[0].image, crop)
    assert np.allclose(faceset.items[0].embedding, astronaut_item.embedding)
    assert faceset.items[1].landmarks.shape == (478, 3)


def test_corrupted_or_truncated_blob_is_named(sqlite_vault, astronaut_item):
    sqlite_vault.enrol("eileen", variants(astronaut_item, 2), talent_passphrase="talent pass")
    blobs = sorted(sqlite_vault.blobs_dir.glob("*.blob"), key=lambda p: p.stat().st_size, reverse=True)
    flipped = bytearray(blobs[0].read_bytes())
    flipped[len(flipped) // 2] ^= 0x01
    blobs[0].write_bytes(bytes(flipped))
    with pytest.raises(VaultError, match=blobs[0].name) as caught:
        sqlite_vault.faceset("eileen")
    assert "corrupt" in str(caught.value)
    blobs[0].write_bytes(flipped[:100])
    with pytest.raises(VaultError, match=blobs[0].name):
        sqlite_vault.faceset("eileen")
    blobs[0].write_bytes(flipped[:10])
    with pytest.raises(VaultError, match="truncated"):
        sqlite_vault.faceset("eileen")


def test_blob_moved_to_another_identity_does_not_decrypt(sqlite_vault, astronaut_item):
    sqlite_vault.enrol("eileen", variants(astronaut_item, 1), talent_passphrase="talent pass")
    (blob,) = [p for p in sqlite_vault.blobs_dir.glob("*.blob") if p.stat().st_size > 100_000]
    ident = sqlite_vault.identity("eileen")
    with sqlite_vault._tx() as connection:  # the data key, as an attacker with the passphrase would get it
        key = sqlite_vault._data_key(connection, ident)
    right = associated_data("blob", ident.id, blob.stem, "item")
    assert unseal(key, blob.read_bytes(), right, what="x")
    with pytest.raises(VaultError):
        unseal(key, blob.read_bytes(), associated_data("blob", "someone-else", blob.stem, "item"), what="x")


def test_delete_shreds_so_an_earlier_copy_of_the_blobs_is_useless(sqlite_vault, sqlite_settings, astronaut_item, tmp_path):
    sqlite_vault.enrol("eileen", variants(astronaut_item, 2), talent_passphrase="talent pass")
    model_id = sqlite_vault.put_model("eileen", b"weights" * 1000, {"engine": "autoencoder"})
    ident = sqlite_vault.identity("eileen")
    with sqlite_vault._tx() as connection:
        wrapped = connection.exec_driver_sql("SELECT wrapped FROM data_keys").scalar_one()
    stolen = tmp_path / "stolen"
    shutil.copytree(sqlite_vault.blobs_dir, stolen)
    sqlite_vault.delete_identity("eileen")
    assert list(sqlite_vault.blobs_dir.glob("*.blob")) == []
    with pytest.raises(InputError):
        sqlite_vault.identity("eileen")
    with pytest.raises(InputError):
        sqlite_vault.get_model(model_id)
    sqlite_vault.close()
    # The wrapped key is gone from every vault file (secure_delete + WAL checkpoint) ...
    for name, content in _files(sqlite_settings).items():
        assert bytes(wrapped) not in content, name
    # ... so with the passphrase and the stolen blobs there is still no key to try.
    with open_vault(sqlite_settings) as again:
        with again._tx() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM data_keys").scalar_one() == 0
        assert again.identities() == []
        events = [e.event for e in again.audit_entries()]
        assert events[-1] == "identity.delete" and again.verify_audit().ok
    assert len(list(stolen.glob("*.blob"))) == 4  # 2 items, embeddings, model: all ciphertext
    assert ident.id not in b"".join(p.read_bytes() for p in stolen.glob("*.blob")).decode("latin-1")


def test_models_are_sealed_and_listed(vault):
    from likeness.vault import FacesetItem  # noqa: F401 - public name

    with pytest.raises(InputError):
        vault.put_model("nobody", b"x", {})


def test_models_round_trip(sqlite_vault, astronaut_item):
    sqlite_vault.enrol("eileen", variants(astronaut_item, 1), talent_passphrase="talent pass")
    payload = np.arange(10000, dtype=np.float32).tobytes()
    model_id = sqlite_vault.put_model("eileen", payload, {"engine": "autoencoder", "epochs": 3})
    assert sqlite_vault.get_model(model_id) == (payload, {"engine": "autoencoder", "epochs": 3})
    assert [m.id for m in sqlite_vault.list_models("eileen")] == [model_id]
    for path in sqlite_vault.blobs_dir.glob("*.blob"):
        assert payload[:256] not in path.read_bytes()
    sqlite_vault.delete_model(model_id)
    assert sqlite_vault.list_models() == []


def test_render_registry_round_trip(vault, astronaut_item):
    vault.enrol("alice", variants(astronaut_item, 1), talent_passphrase="talent pass")
    from likeness.consent import Request, authorize, create_grant, take

    grant = create_grant(vault, "alice", grantee="demo-studio", scopes=["film"], expires="2030-01-01", talent_passphrase="talent pass")
    decision = authorize(vault, Request("alice", grant.id, "film", "render", "demo-studio"))
    fingerprint = b"fingerprint bytes"
    record = RenderRecord(
        render_id=(1 << 62) + 12345, grant_id=grant.id, identity="alice", target_sha256="a" * 64, output_sha256="b" * 64,
        engine="retrieval", settings={"frames": 3, "scope": "film"}, time=1_790_000_000.25, n=1, fingerprint=fingerprint,
    )
    taken = take(vault, decision, use="render", data={}, produce=lambda n: record)
    assert taken.n == 1 and vault.render(record.render_id) == record == vault.render_by_output("b" * 64)
    assert vault.render(7) is None and vault.render_by_output("c" * 64) is None
    last = vault.audit_entries()[-1]
    assert last.event == "render.record" and last.data["output_sha256"] == "b" * 64 and last.data["n"] == 1
    with vault.engine.begin() as connection:  # the fingerprint is sealed in the database
        stored = connection.exec_driver_sql("SELECT fingerprint FROM renders").scalar_one()
    assert fingerprint not in bytes(stored)


def test_firewall_refuses_an_enrolled_face_under_another_name(vault, sfhq_items):
    vault.enrol("alice", variants(sfhq_items["alice"], 3), talent_passphrase="talent pass")
    vault.enrol("carol", variants(sfhq_items["carol"], 2), talent_passphrase="other talent")
    with pytest.raises(ConsentError, match="'alice'"):
        vault.enrol("bob", variants(sfhq_items["alice"], 2), talent_passphrase="bob's")
    assert [i.name for i in vault.identities()] == ["alice", "carol"]


def test_firewall_refuses_a_faceset_of_two_people(vault, sfhq_items):
    with pytest.raises(ConsentError, match="more than one person"):
        vault.enrol("mix", [sfhq_items["alice"], sfhq_items["alice"], sfhq_items["carol"]], talent_passphrase="t")
    assert vault.identities() == [] and list(vault.blobs_dir.glob("*.blob")) == []


def test_adding_media_checks_it_is_the_same_person(vault, sfhq_items):
    vault.enrol("alice", variants(sfhq_items["alice"], 2), talent_passphrase="t")
    with pytest.raises(ConsentError, match="does not show 'alice'"):
        vault.add_media("alice", variants(sfhq_items["carol"], 2))
    updated = vault.add_media("alice", variants(sfhq_items["alice"], 3)[2:])
    assert updated.items == 3 and len(vault.faceset("alice")) == 3
    assert len(vault.embeddings("alice")) == 3


def test_sweep_removes_stray_ciphertext_but_not_live_blobs(sqlite_vault, astronaut_item):
    sqlite_vault.enrol("eileen", variants(astronaut_item, 1), talent_passphrase="t")
    live = set(sqlite_vault.blobs_dir.glob("*.blob"))
    (sqlite_vault.blobs_dir / "deadbeef.blob").write_bytes(b"LK1" + bytes(40))
    (sqlite_vault.blobs_dir / ".tmp-cafe-1").write_bytes(b"LK1" + bytes(40))
    assert sqlite_vault.recover(min_age_s=3600) == 0  # young: may be another enrolment in flight
    assert sqlite_vault.recover(min_age_s=0) == 2
    assert set(sqlite_vault.blobs_dir.iterdir()) == live


def test_owner_key_needs_the_talent_passphrase_not_the_vaults(vault, astronaut_item):
    vault.enrol("eileen", variants(astronaut_item, 1), talent_passphrase="talent pass")
    assert vault.owner_key("eileen", "talent pass") is not None
    with pytest.raises(ConsentError, match="wrong talent passphrase"):
        vault.owner_key("eileen", vault.settings.passphrase)
    with sqlite_or_pg_text(vault) as dump:
        assert b"talent pass" not in dump


class sqlite_or_pg_text:
    """Everything the vault stores in its tables, as bytes, for leak checks."""

    def __init__(self, vault):
        self.vault = vault

    def __enter__(self) -> bytes:
        parts = []
        with self.vault._tx() as connection:
            for table in ("meta", "identities", "data_keys", "blobs", "grants", "audit"):
                for row in connection.exec_driver_sql(f"SELECT * FROM {table}"):
                    parts += [bytes(v) if isinstance(v, (bytes, memoryview)) else str(v).encode() for v in row]
        return b"|".join(parts)

    def __exit__(self, *exc) -> None:
        return None


def test_scrypt_cost_is_stored_and_memory_hard_by_default(sqlite_settings):
    from likeness.vault.crypto import DEFAULT_SCRYPT_N

    assert DEFAULT_SCRYPT_N >= 2**15
    with init_vault(sqlite_settings, scrypt_n=TEST_SCRYPT_N) as v:
        assert v.scrypt_n == TEST_SCRYPT_N
    with open_vault(sqlite_settings) as v:
        assert v.scrypt_n == TEST_SCRYPT_N
        with v._tx() as connection:
            kdf = connection.exec_driver_sql("SELECT value FROM meta WHERE key = 'kdf'").scalar_one()
        assert hashlib.sha256(kdf).hexdigest()  # stored beside the salt


def test_a_deletion_cut_short_is_finished_at_the_next_open(sqlite_vault, sqlite_settings, astronaut_item, monkeypatch):
    sqlite_vault.enrol("eileen", variants(astronaut_item, 2), talent_passphrase="t")

    def crash(_identity_id):  # what a crash right after the shredding commit leaves
        raise KeyboardInterrupt

    monkeypatch.setattr(sqlite_vault, "_finish_deletion", crash)
    with pytest.raises(KeyboardInterrupt):
        sqlite_vault.delete_identity("eileen")
    assert sqlite_vault.identities() == []
    sqlite_vault.close()
    with open_vault(sqlite_settings) as again:
        with again._tx() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM identities").scalar_one() == 0
            assert connection.exec_driver_sql("SELECT count(*) FROM blobs").scalar_one() == 0
    assert list(sqlite_settings.blobs.glob("*.blob")) == []


def test_an_unreachable_database_is_one_clear_line(tmp_path):
    from likeness.settings import Settings

    settings = Settings(home=tmp_path, database_url="postgresql://nobody@127.0.0.1:1/none", passphrase="p")
    with pytest.raises(VaultError, match="cannot reach the vault database"):
        open_vault(settings)


def test_schema_head_is_the_newest_migration():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from likeness.vault.database import SCHEMA_HEAD

    config = Config()
    config.set_main_option("script_location", "likeness.vault:migrations")
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_HEAD


def test_a_vault_at_head_opens_without_loading_alembic(sqlite_vault, sqlite_settings):
    import subprocess
    import sys

    sqlite_vault.close()
    script = ("import sys; from pathlib import Path; from likeness.settings import Settings; from likeness.vault import open_vault; "
              f"v = open_vault(Settings(home=Path({str(sqlite_settings.home)!r}), database_url={sqlite_settings.database_url!r}, "
              "passphrase='vault pass')); v.close(); print('alembic' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_a_vault_one_migration_behind_is_brought_up_to_date(sqlite_vault, sqlite_settings):
    from alembic import command
    from alembic.config import Config

    from likeness.vault.database import SCHEMA_HEAD, schema_version

    sqlite_vault.close()
    config = Config()
    config.set_main_option("script_location", "likeness.vault:migrations")
    with sqlite_vault.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "-1")  # as a vault made by the previous release
    assert schema_version(sqlite_vault.engine) != SCHEMA_HEAD
    with open_vault(sqlite_settings) as again:
        assert schema_version(again.engine) == SCHEMA_HEAD
