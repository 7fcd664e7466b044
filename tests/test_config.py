"""The one config rule: every params section maps onto its dataclass, or fails naming the key and the file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from pipeline.config import ConfigError, from_mapping, load_keys, load_section, write_metrics
from pipeline.crawl import CrawlConfig, SampleBooruConfig
from pipeline.dedup import DedupConfig
from pipeline.filter.config import FilterConfig
from stages import crawl as crawl_stage
from stages import dedup as dedup_stage
from tests.conftest import REPO

SECTIONS = {"crawl": CrawlConfig, "samplebooru": SampleBooruConfig, "dedup": DedupConfig}


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_every_section_of_the_repos_params_loads(section):
    cfg = load_section(REPO / "params.yaml", section, SECTIONS[section])
    assert isinstance(cfg, SECTIONS[section])


def _params_with(tmp_path: Path, edit) -> Path:
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    edit(data)
    path = tmp_path / "my-params.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["dedup"].pop("shard_size"), r"my-params.yaml: dedup: missing key 'shard_size'"),
    (lambda d: d["dedup"]["search"].pop("min_thumb_corr"), r"my-params.yaml: dedup.search: missing key 'min_thumb_corr'"),
    (lambda d: d["dedup"].update(shard_sise=10), r"my-params.yaml: dedup: unknown key 'shard_sise'"),
    (lambda d: d["crawl"]["retry"].update(tims=3), r"my-params.yaml: crawl.retry: unknown key 'tims'"),
    (lambda d: d["crawl"]["queries"][0].pop("max_posts"), r"my-params.yaml: crawl.queries\[0\]: missing key 'max_posts'"),
    (lambda d: d["crawl"].update(rate="fast"), r"my-params.yaml: crawl.rate: expected float, got 'fast'"),
    (lambda d: d["dedup"]["search"].update(phash_radius=99), r"my-params.yaml: dedup.search: .*0..64"),
    (lambda d: d.pop("samplebooru"), r"my-params.yaml: missing section 'samplebooru'"),
])
def test_a_bad_section_fails_naming_the_key_and_the_file(tmp_path, edit, message):
    path = _params_with(tmp_path, edit)
    with pytest.raises(ConfigError, match=message):
        for section, cls in SECTIONS.items():
            load_section(path, section, cls)


@pytest.mark.parametrize("stage", [crawl_stage, dedup_stage])
def test_a_stage_refuses_a_bad_section_before_doing_anything(tmp_path, stage):
    path = _params_with(tmp_path, lambda d: (d["crawl"].update(bogus=1), d["dedup"].update(bogus=1)))
    out = tmp_path / "out"
    args = {"crawl": ["--raw", str(out), "--metrics", str(out / "m.json")],
            "dedup": ["--raw", str(out), "--out", str(out), "--shards", str(out), "--report", str(out),
                      "--metrics", str(out / "m.json"), "--labels", str(out / "l.csv")]}[stage.__name__.rsplit(".", 1)[1]]
    with pytest.raises(ConfigError, match="unknown key 'bogus'"):
        stage.main([*args, "--params", str(path)])
    assert not out.exists()


@dataclass(frozen=True)
class _Inner:
    n: int
    ratio: float


@dataclass(frozen=True)
class _Outer:
    name: str
    inner: _Inner
    items: tuple[_Inner, ...]
    limit: int | None
    flag: bool


def test_from_mapping_builds_nested_values_and_checks_types():
    cfg = from_mapping(_Outer, {"name": "x", "inner": {"n": 1, "ratio": 2}, "items": [{"n": 2, "ratio": 0.5}],
                                "limit": None, "flag": False}, "t")
    assert cfg == _Outer("x", _Inner(1, 2.0), (_Inner(2, 0.5),), None, False)
    assert isinstance(cfg.inner.ratio, float)
    for bad, message in [({"n": True, "ratio": 1.0}, r"t.inner.n: expected int, got True"),
                         ({"n": "1", "ratio": 1.0}, r"t.inner.n: expected int, got '1'"),
                         ("3", r"t.inner: expected a mapping")]:
        with pytest.raises(ConfigError, match=message):
            from_mapping(_Outer, {"name": "x", "inner": bad, "items": [], "limit": 3, "flag": True}, "t")
    with pytest.raises(ConfigError, match=r"t.limit: expected int"):
        from_mapping(_Outer, {"name": "x", "inner": {"n": 1, "ratio": 2}, "items": [], "limit": 1.5, "flag": True}, "t")


def test_metrics_are_sorted_indented_json_written_atomically(tmp_path):
    path = tmp_path / "m" / "metrics.json"
    write_metrics(path, {"b": 1, "a": {"y": 2, "x": 1}})
    assert path.read_text() == json.dumps({"a": {"x": 1, "y": 2}, "b": 1}, indent=2) + "\n"
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]


def test_the_stage_command_prints_one_line_and_exits_2_on_a_bad_section(tmp_path):
    import subprocess
    import sys

    path = _params_with(tmp_path, lambda d: d["dedup"]["report"].pop("pairs"))
    out = str(tmp_path / "out")
    proc = subprocess.run([sys.executable, "-m", "stages.dedup", "--params", str(path), "--raw", out, "--out", out,
                           "--shards", out, "--report", out, "--metrics", out + "/m.json", "--labels", out + "/l.csv"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == f"error: {path}: dedup.report: missing key 'pairs'\n"


def test_the_filter_refuses_a_grey_cut_above_the_grey_tones_it_measures(tmp_path):
    """Grey tones are measured only up to encode.detail_colour (the tone rules read no others), so a
    colour_max above it would judge pictures whose tones were never measured."""
    path = _params_with(tmp_path, lambda d: d["filter"]["rules"].update(colour_max=0.01))
    with pytest.raises(ConfigError, match=r"my-params.yaml.*colour_max \(0.01\) is above encode.detail_colour"):
        load_keys(path, "filter", FilterConfig)
    assert load_keys(REPO / "params.yaml", "filter", FilterConfig).rules.colour_max <= 0.002
