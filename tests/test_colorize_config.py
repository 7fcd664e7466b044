"""The train section: the repo's params load, and a setting the networks cannot take fails at start-up."""

from __future__ import annotations

import pytest
import yaml

from pipeline.colorize.config import TrainConfig
from pipeline.config import ConfigError, load_section
from stages import train as train_stage
from tests.conftest import REPO


def test_the_repos_train_section_loads():
    cfg = load_section(REPO / "params.yaml", "train", TrainConfig)
    assert cfg.mode == "gan" and cfg.data.crop % cfg.generator.factor == 0
    assert (cfg.loss.l1_weight, cfg.optim.beta1) == (100.0, 0.5)  # pix2pix's
    assert (cfg.optim.lr, cfg.loss.adversarial) == (2e-3, "lsgan")  # the CPU demo's (README "Evaluate")


@pytest.mark.parametrize(("path", "value", "message"), [
    (("data", "crop"), 48, r"data.crop 48 must be a positive multiple of the U-Net's factor 2\*\*depth = 32"),
    (("discriminator", "in_channels"), 3, "discriminator.in_channels must be generator.in_channels"),
    (("mode",), "wgan", "mode must be one of"),
    (("loss", "adversarial"), "wasserstein", "loss.adversarial must be one of"),
    (("generator", "norm"), "group", "generator.norm must be one of"),
    (("data", "epochs"), 3, "train.data: unknown key 'epochs'"),
])
def test_a_bad_setting_names_itself_and_the_file(tmp_path, path, value, message):
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    node = data["train"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=message) as exc:
        load_section(tmp_path / "p.yaml", "train", TrainConfig)
    assert "p.yaml" in str(exc.value)


def test_the_stage_refuses_a_bad_section_before_doing_anything(tmp_path, capsys):
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["train"]["data"]["crop"] = 40
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    args = ["--data", str(out), "--out", str(out / "m.pt"), "--state", str(out), "--live", str(out),
            "--metrics", str(out / "m.json"), "--params", str(tmp_path / "p.yaml")]
    assert train_stage.cli(train_stage.main, args) == 2
    assert "data.crop 40" in capsys.readouterr().err
    assert not out.exists()
