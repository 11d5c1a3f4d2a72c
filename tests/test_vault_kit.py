"""Shared fixtures for the vault, consent and audit tests (no tests here).

Real faces only: the astronaut portrait always, the SFHQ stills from ../shared/media when there.
A cheap scrypt cost keeps the suite fast; the CLI story test uses the memory-hard default.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
import pytest

from conftest import shared
from likeness.settings import Settings
from likeness.vault import FacesetItem, init_vault

TEST_SCRYPT_N = 1024
PG_ENV = "LIKENESS_TEST_POSTGRES_URL"


def item_from(analyzer, image: np.ndarray) -> FacesetItem:
    """The largest face of ``image`` as a faceset item, exactly as enrolment builds it."""
    from likeness.faces import align

    face = analyzer.detect(image)[0]
    aligned = align(image, face, 512)
    return FacesetItem(aligned.image, np.asarray(aligned.landmarks, np.float32), face.pose, analyzer.embed(image, face), face.quality)


@pytest.fixture(scope="session")
def analyzer():
    from likeness.faces import FaceAnalyzer

    with FaceAnalyzer() as a:
        yield a


@pytest.fixture(scope="session")
def astronaut_item(analyzer, astronaut) -> FacesetItem:
    return item_from(analyzer, astronaut)


@pytest.fixture(scope="session")
def sfhq_items(analyzer) -> dict[str, FacesetItem]:
    """Two different synthetic people (alice = SFHQ 161, carol = SFHQ 2875)."""
    from likeness.media import read_image

    return {
        "alice": item_from(analyzer, read_image(shared("syn_SFHQ_pt1_00000161.jpg"))),
        "carol": item_from(analyzer, read_image(shared("syn_SFHQ_pt1_00002875.jpg"))),
    }


def variants(item: FacesetItem, count: int) -> list[FacesetItem]:
    """``count`` crops of one real face, mirrored/shifted and with distinct poses (a small faceset)."""
    out = []
    for i in range(count):
        image = item.image[:, ::-1] if i % 2 else item.image
        image = np.ascontiguousarray(np.roll(image, i // 2, axis=1))
        pose = type(item.pose)(item.pose.yaw + 3 * i, item.pose.pitch, item.pose.roll)
        out.append(FacesetItem(image, item.landmarks, pose, item.embedding, item.quality))
    return out


def _postgres_database(base_url: str):
    """A fresh database on the test server; yields its URL and drops it afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from likeness.vault.database import normalise_url

    url = make_url(normalise_url(base_url))
    name = f"likeness_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request, tmp_path: Path):
    """Vault settings in tmp_path, on SQLite and (when LIKENESS_TEST_POSTGRES_URL is set) PostgreSQL."""
    home = tmp_path / "home"
    if request.param == "sqlite":
        yield Settings(home=home, database_url=f"sqlite:///{home / 'vault.db'}", passphrase="vault pass", talent_passphrase="talent pass")
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set (.ci/run starts a PostgreSQL server and sets it)")
    for url in _postgres_database(base):
        yield Settings(home=home, database_url=url, passphrase="vault pass", talent_passphrase="talent pass")


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    home = tmp_path / "home"
    return Settings(home=home, database_url=f"sqlite:///{home / 'vault.db'}", passphrase="vault pass", talent_passphrase="talent pass")


@pytest.fixture
def vault(settings):
    with init_vault(settings, studio="demo-studio", scrypt_n=TEST_SCRYPT_N) as v:
        yield v


@pytest.fixture
def sqlite_vault(sqlite_settings):
    with init_vault(sqlite_settings, studio="demo-studio", scrypt_n=TEST_SCRYPT_N) as v:
        yield v
