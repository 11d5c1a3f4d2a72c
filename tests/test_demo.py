"""``make demo`` runs the whole job on embedded defaults and leaves outputs and reports behind."""

from __future__ import annotations

import json

import pytest

from likeness import demo, media, tagging

pytestmark = pytest.mark.slow


def test_demo_writes_tagged_outputs_and_side_by_side_reports(tmp_path, capsys):
    written = demo.run(tmp_path / "demo-output")
    names = sorted(p.name for p in written)
    assert any(n.endswith(".html") for n in names) and any(n.startswith("report-") and n.endswith(".png") for n in names)
    for path in written:
        assert path.is_file() and path.stat().st_size > 0
    outputs = [p for p in written if p.name.startswith("swap-")]
    assert outputs
    root = (tmp_path / "demo-output" / "studio-root.pem").read_bytes()
    card = json.loads(next((tmp_path / "demo-output").glob("*.card")).read_text())
    for output in outputs:
        assert tagging.verify(output).verdict == "unconfirmed"  # nobody here trusts the studio yet
        verdict = tagging.verify(output, trust_roots=root, talent_card=card)  # the public, with what the studio and talent publish
        assert verdict.verdict == "intact" and verdict.consent.ok and verdict.consent.talent_card and verdict.consent.n >= 1
    assert not list((tmp_path / "demo-output").glob(".*"))  # no temporaries left
    video = [p for p in outputs if media.is_video(p)]
    if video:
        assert media.probe(video[0]).has_audio
    assert "demo: done" in capsys.readouterr().out


def test_demo_without_the_shared_media_says_what_it_needs_and_still_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(demo, "SHARED_MEDIA", tmp_path / "no-shared-media")
    written = demo.run(tmp_path / "demo-output")
    assert "syn_SFHQ_pt1_00000161.jpg" in capsys.readouterr().err
    outputs = [p for p in written if p.name.startswith("swap-")]
    root = (tmp_path / "demo-output" / "studio-root.pem").read_bytes()
    assert len(outputs) == 1 and tagging.verify(outputs[0], trust_roots=root).verdict == "intact"
