"""The classifier's fold ensemble: one graph that scores a fold's pictures with that fold's model only.

Its weights are the k models' stacked, batch norm folded into each convolution; whatever the fold, it must
give what that fold's own ``FilterNet`` gives in eval mode (batch norm statistics far from 0 and 1, so a wrong
fold would show), on non-square batches of any size.
"""

from __future__ import annotations

import torch
from torch import nn

from pipeline.filter.config import HEADS, NetConfig
from pipeline.filter.model import FilterNet, FoldEnsemble


def _models(k: int) -> list[FilterNet]:
    torch.manual_seed(0)
    models = [FilterNet(NetConfig(width=4, blocks=3)) for _ in range(k)]
    for net in models:
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.3, 3.0)
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.uniform_(-0.2, 0.2)
        net.eval()
    return models


def test_each_fold_is_scored_by_its_own_model_with_batch_norm_folded():
    models = _models(3)
    use_verdicts = [False, True]
    ensemble = FoldEnsemble(models, use_verdicts).eval()
    columns = [k + (len(HEADS) if v else 0) for k, v in enumerate(use_verdicts)]
    x = torch.rand(5, 3, 24, 40)  # not square: the model never assumes it
    with torch.no_grad():
        for k, net in enumerate(models):
            want = torch.sigmoid(net(x)[:, columns])
            got = ensemble(x, torch.tensor([k]))
            assert got.shape == (5, len(HEADS))
            assert torch.allclose(got, want, atol=1e-5), (k, (got - want).abs().max())
        others = ensemble(x, torch.tensor([1]))
        assert (others - ensemble(x, torch.tensor([0]))).abs().max() > 1e-3  # the fold picks other weights
        assert torch.allclose(ensemble(x[:1], torch.tensor([2])), ensemble(x, torch.tensor([2]))[:1], atol=1e-6)
