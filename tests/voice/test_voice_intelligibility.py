"""The intelligibility benchmark runs end to end (2 sentences, 1 configuration): espeak-ng, the
8 kHz μ-law phone path and the real recogniser, with its cache."""

from __future__ import annotations

import json

import pytest

from benchmarks import voice_intelligibility as bench

pytestmark = pytest.mark.usefixtures("espeak")


def test_benchmark_smoke(tmp_path, capsys):
    pytest.importorskip("vietasr")
    args = ["--config", "voice=vi,rate=150", "--limit", "2", "--cache", str(tmp_path), "--json"]
    assert bench.main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["sentences"] == 2 and len(report["results"]) == 1
    result = report["results"][0]
    assert result["config"] == "vi s150 p50 g0 plain"
    assert 0.0 <= result["wer"]["all"] <= 2.0 and set(result["wer"]) >= {"tune", "held", "fee"}
    assert len(list(tmp_path.glob("pcm-*"))) == 2 and len(list(tmp_path.glob("txt-*"))) == 2
    assert bench.main(args) == 0  # the second run is read from the cache
    assert json.loads(capsys.readouterr().out)["results"] == report["results"]


def test_configurations_parse_and_reject_unknown_keys():
    config = bench.VoiceConfig.parse("voice=vi-vn-x-south,variant=m3,rate=130,gap=2,text=grouped")
    assert config.synthesizer().arguments() == [
        "-v", "vi-vn-x-south+m3", "-s", "130", "-p", "50", "-g", "2",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="unknown key"):
        bench.VoiceConfig.parse("speed=120")
    with pytest.raises(ValueError, match="text must be"):
        bench.VoiceConfig.parse("text=shouty")
    assert len(bench.GRIDS["search"]()) <= 12
