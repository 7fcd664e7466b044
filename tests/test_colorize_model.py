"""The colorizer's networks and losses: shapes on non-square pictures, loss signs, a step that learns, ONNX."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from pipeline.colorize.losses import (
    ADVERSARIAL,
    discriminator_loss,
    generator_loss,
    gradient_loss,
    l1_loss,
    ssim_loss,
)
from pipeline.colorize.model import DiscriminatorConfig, GeneratorConfig, PatchGAN, UNet
from pipeline.colorize.train import lr_factor

torch.set_num_threads(1)


def gen_config(**over) -> GeneratorConfig:
    base = dict(in_channels=1, out_channels=3, width=4, depth=3, max_mult=8, norm="instance", dropout=0.5,
                dropout_blocks=1)
    return GeneratorConfig(**{**base, **over})


def disc_config(**over) -> DiscriminatorConfig:
    return DiscriminatorConfig(**{**dict(in_channels=4, width=4, layers=3, max_mult=8, norm="instance"), **over})


@pytest.mark.parametrize("norm", ["instance", "batch", "none"])
@pytest.mark.parametrize(("depth", "hw"), [(3, (32, 96)), (3, (72, 40)), (5, (64, 160)), (2, (4, 12))])
def test_generator_keeps_any_multiple_of_its_factor(norm, depth, hw):
    g = UNet(gen_config(depth=depth, norm=norm))
    out = g(torch.rand(2, 1, *hw) * 2 - 1)
    assert out.shape == (2, 3, *hw)
    assert out.abs().max() <= 1.0  # tanh
    assert out.std() > 0


def test_generator_refuses_other_sizes_clearly():
    with pytest.raises(RuntimeError, match="multiples of 8"):
        UNet(gen_config(depth=3))(torch.zeros(1, 1, 32, 36))


@pytest.mark.parametrize(("layers", "hw", "patches"), [(3, (64, 96), (6, 10)), (2, (32, 48), (6, 10)),
                                                       (1, (16, 40), (6, 18))])
def test_discriminator_scores_patches(layers, hw, patches):
    d = PatchGAN(disc_config(layers=layers))
    assert d(torch.zeros(3, 4, *hw)).shape == (3, 1, *patches)  # H / 2**layers - 2


def test_pix2pix_sizes():
    """At pix2pix's settings (RGB to RGB, batch norm) the networks are its unet_256 and 70x70 PatchGAN,
    down to the parameter counts its trainer prints (54.414 M and 2.769 M)."""
    g = UNet(gen_config(in_channels=3, width=64, depth=8, norm="batch", dropout_blocks=3))
    d = PatchGAN(disc_config(in_channels=6, width=64, norm="batch"))
    assert sum(p.numel() for p in g.parameters()) == 54_413_955
    assert sum(p.numel() for p in d.parameters()) == 2_768_705


@pytest.mark.parametrize("kind", ADVERSARIAL)
def test_loss_signs(kind):
    high, low = torch.full((2, 1, 6, 6), 3.0), torch.full((2, 1, 6, 6), -3.0)
    # the discriminator is rewarded for calling real pairs real and generated ones fake
    assert discriminator_loss(kind, high, low) < discriminator_loss(kind, low, high)
    assert discriminator_loss(kind, high, low) >= 0
    # the generator is rewarded when its outputs are called real
    assert generator_loss(kind, high) < generator_loss(kind, low)
    assert l1_loss(high, high) == 0 < l1_loss(high, low)


def test_vanilla_loss_is_pix2pix_bce():
    zero = torch.zeros(1, 1, 4, 4)
    assert discriminator_loss("vanilla", zero, zero).item() == pytest.approx(np.log(2))
    assert generator_loss("vanilla", zero).item() == pytest.approx(np.log(2))


def test_gradient_loss_costs_blotches_not_a_flat_colour_error():
    truth = torch.full((1, 3, 16, 16), 0.5)
    truth[..., 8:] = -0.5  # two flat regions with one edge between them
    shifted = truth + 0.3  # every pixel off by the same amount: flat where the truth is flat
    blotchy = truth + 0.3 * torch.sign(torch.randn(1, 1, 16, 16, generator=torch.Generator().manual_seed(0)))
    assert gradient_loss(truth, truth) == 0 == gradient_loss(shifted, truth)
    assert l1_loss(shifted, truth) == pytest.approx(l1_loss(blotchy, truth).item())  # L1 cannot tell them apart
    assert gradient_loss(blotchy, truth) > 0.1
    assert gradient_loss(torch.full_like(truth, 0.5), truth) > 0  # a missing edge costs too


def test_ssim_loss_is_one_minus_the_ssim_evaluate_reports():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 256, (20, 27, 3)).astype(np.uint8)  # not square
    truth[:, :13] = (200, 120, 40)  # a flat region as well as noise
    out = np.clip(truth.astype(int) + rng.integers(-40, 41, truth.shape), 0, 255).astype(np.uint8)
    as_t = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].float() / 127.5 - 1  # noqa: E731
    expected = structural_similarity(truth, out, channel_axis=2, data_range=255)
    assert 1 - ssim_loss(as_t(out), as_t(truth)).item() == pytest.approx(expected, abs=1e-4)
    assert ssim_loss(as_t(truth), as_t(truth)).item() == pytest.approx(0, abs=1e-6)


def test_lr_decays_linearly_over_the_last_share_of_the_steps():
    assert [lr_factor(0.5, done, 10) for done in range(10)] == pytest.approx(
        [1, 1, 1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2])
    assert {lr_factor(0.0, done, 10) for done in range(10)} == {1.0}  # decay 0: constant
    assert lr_factor(1.0, 0, 10) == 1.0 and lr_factor(1.0, 9, 10) == pytest.approx(0.1)


def test_one_step_lowers_l1_on_a_fixed_batch():
    torch.manual_seed(0)
    g = UNet(gen_config(dropout=0.0))
    opt = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    line, color = torch.rand(4, 1, 32, 48) * 2 - 1, torch.rand(4, 3, 32, 48) * 2 - 1
    before = l1_loss(g(line), color)
    opt.zero_grad()
    before.backward()
    opt.step()
    with torch.no_grad():
        assert l1_loss(g(line), color) < before.detach()


@pytest.mark.parametrize("norm", ["instance", "batch"])
def test_generator_exports_to_onnx_with_dynamic_height_and_width(tmp_path, norm):
    g = UNet(gen_config(norm=norm, depth=4)).eval()
    if norm == "batch":  # non-trivial running statistics, so that eval-mode export is really checked
        g.train()
        with torch.no_grad():
            g(torch.rand(4, 1, 64, 64))
        g.eval()
    f = g.config.factor
    h, w = torch.export.Dim("h", min=1, max=128), torch.export.Dim("w", min=1, max=128)
    program = torch.onnx.export(g, (torch.zeros(1, 1, 2 * f, 3 * f),), dynamo=True, opset_version=18,
                                input_names=["line"], output_names=["color"],
                                dynamic_shapes=({0: torch.export.Dim("n", max=64), 2: f * h, 3: f * w},), verbose=False)
    program.save(str(tmp_path / "g.onnx"))
    session = ort.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    for shape in [(1, 1, 48, 112), (2, 1, 96, 32)]:  # neither the traced shape nor square
        line = torch.rand(*shape) * 2 - 1
        got = session.run(None, {"line": line.numpy()})[0]
        with torch.no_grad():
            want = g(line).numpy()
        assert got.shape == want.shape
        assert np.abs(got - want).max() < 1e-3
