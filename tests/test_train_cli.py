"""``likeness train`` and ``likeness model`` from the command line, on the vault of tests/test_train.py."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from likeness import media, tagging
from likeness.cli.main import build_app
from likeness.errors import InputError
from tests.test_train import lab  # noqa: F401 - the shared module fixture


@pytest.fixture()
def cli(lab, monkeypatch):  # noqa: F811
    home = lab["home"]
    monkeypatch.setenv("LIKENESS_HOME", str(home))
    monkeypatch.setenv("LIKENESS_DATABASE_URL", f"sqlite:///{home / 'vault.db'}")
    monkeypatch.setenv("LIKENESS_PASSPHRASE", "vault pass")
    runner = CliRunner()
    return lambda *args: runner.invoke(build_app(), list(args), catch_exceptions=True)


def test_train_stores_a_model_writes_a_tagged_preview_and_model_commands_see_it(cli, lab, tmp_path):  # noqa: F811
    preview = tmp_path / "preview.png"
    out = cli("train", "alice", "--grant", lab["grant"], "--target", str(lab["target"]), "--iterations", "2",
              "--device", "cpu", "--preview", str(preview), "--preview-every", "1", "--json")
    assert out.exit_code == 0, out.output
    meta = json.loads(out.stdout[out.stdout.index("{"):])
    assert meta["iterations"] == 2 and meta["preset"] == "quick" and meta["resolution"] == 64
    grid = media.read_image(preview)
    assert grid.shape[1] == 5 * 256  # five columns, 64 px cells shown at 256 px
    # The preview shows a swapped face, so it is an output like any render: marked, signed, recorded.
    verdict = tagging.verify(preview, vault=lab["vault"]).as_dict()
    assert verdict["verdict"] == "intact" and verdict["c2pa"]["state"] == "trusted" and verdict["attribution"] == "hash"
    assert lab["vault"].render(int(verdict["watermark"]["render_id"], 16)).engine == "autoencoder-preview"
    assert verdict["consent"]["ok"] and verdict["consent"]["n"] is None  # a preview: the training run's use covers it
    listed = json.loads(cli("model", "list", "--identity", "alice", "--json").stdout)
    assert meta["model"] in [row["id"] for row in listed]
    shown = json.loads(cli("model", "show", meta["model"], "--json").stdout)
    assert shown["grant_id"] == lab["grant"] and shown["identity"] == "alice"
    assert cli("model", "delete", meta["model"], "--yes").exit_code == 0
    assert meta["model"] not in [row["id"] for row in json.loads(cli("model", "list", "--json").stdout)]


def test_cuda_without_a_gpu_exits_with_one_clear_line(cli, lab):  # noqa: F811
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    out = cli("train", "alice", "--grant", lab["grant"], "--target", str(lab["target"]), "--minutes", "1", "--device", "cuda")
    # main() turns this into one line on stderr and exit 2 (tests/test_cli.py covers that path).
    assert isinstance(out.exception, InputError) and out.exception.exit_code == 2 and "no CUDA GPU" in str(out.exception)


def test_likeness_swap_with_the_autoencoder_engine_uses_the_latest_model(cli, lab, tmp_path):  # noqa: F811
    """`likeness swap --engine autoencoder` gives the engine the open vault; it takes the identity's latest model."""
    trained = cli("train", "alice", "--grant", lab["grant"], "--target", str(lab["target"]), "--iterations", "1", "--device", "cpu")
    assert trained.exit_code == 0, trained.output
    target = tmp_path / "frame.png"
    media.write_image(target, next(iter(media.read_frames(lab["target"]))).image)
    out = cli("swap", str(target), "-o", str(tmp_path / "out.png"), "--identity", "alice", "--grant", lab["grant"],
              "--scope", "film", "--engine", "autoencoder", "--device", "cpu", "--json")
    assert out.exit_code == 0, out.output
    record = json.loads(out.stdout[out.stdout.index("{"):])
    assert record["engine"] == "autoencoder" and record["settings"]["frames"] == 1
    assert (tmp_path / "out.png").is_file()
