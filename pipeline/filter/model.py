"""The classifier's networks: a small CNN with one logit per head, the k fold models as one graph, and the
line figure network (the figure found in the ink map alone).

Only modules live here (nanoGPT's rule); their config, ``NetConfig``, is in ``pipeline.filter.config`` with the
other settings, so reading them needs no torch. Training is ``pipeline.filter.train``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pipeline.filter.config import HEADS, LinesNetConfig, NetConfig


class FilterNet(nn.Module):
    """Thumbnail (N, 3, S, S) in [0, 1] -> logits (N, 2 * len(HEADS)): per head a *tag* logit, trained on
    the tag weak labels, then a *verdict* logit, trained on the human verdicts. Both share the trunk; the
    verdict logit is free to put the boundary where people put it, inside a tag's range (``wide_shot``
    spans 0.3% to 7% of the picture), where the tag logit cannot see one.

    Every block is conv-BN-ReLU then a 2x2 max-pool; the head averages *and* maxes the last map, so
    both "how much of the picture is busy" (clutter) and "how big is the largest figure" (small) are one
    linear layer away.
    """

    def __init__(self, cfg: NetConfig):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for i in range(cfg.blocks):
            cout = cfg.width * min(2 ** i, 4)
            layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(2 * cin, 2 * len(HEADS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x * 2.0 - 1.0)
        return self.head(torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3))], dim=1))


class FoldEnsemble(nn.Module):
    """The k fold models as one graph that costs one model: each picture must be scored by the model of its
    fold, the one that never trained on it (``fold`` in 0..k-1, from ``pipeline.filter.config.fold_of``), so
    the graph takes the thumbnails of *one* fold and that fold (a (1,) int64 tensor) and picks its weights
    from the k models' weights stacked, batch norm folded into each convolution as in eval mode. Output: one
    probability per head, from its verdict logit where ``use_verdicts`` says so (enough verdicts), else its
    tag logit."""

    def __init__(self, models: list[FilterNet], use_verdicts: list[bool]):
        super().__init__()
        blocks = [[m for m in net.features if isinstance(m, nn.Conv2d | nn.BatchNorm2d)] for net in models]
        weights, biases = [], []
        for i in range(0, len(blocks[0]), 2):
            folded = [_fold_bn(b[i], b[i + 1]) for b in blocks]
            weights.append(nn.Parameter(torch.stack([w for w, _ in folded]), requires_grad=False))
            biases.append(nn.Parameter(torch.stack([b for _, b in folded]), requires_grad=False))
        self.weights, self.biases = nn.ParameterList(weights), nn.ParameterList(biases)
        self.head_w = nn.Parameter(torch.stack([net.head.weight.detach() for net in models]), requires_grad=False)
        self.head_b = nn.Parameter(torch.stack([net.head.bias.detach() for net in models]), requires_grad=False)
        columns = [k + (len(HEADS) if v else 0) for k, v in enumerate(use_verdicts)]
        self.register_buffer("columns", torch.tensor(columns, dtype=torch.int64))

    def forward(self, x: torch.Tensor, fold: torch.Tensor) -> torch.Tensor:
        h = x * 2.0 - 1.0
        for w, b in zip(self.weights, self.biases, strict=True):
            h = F.conv2d(h, w.index_select(0, fold).squeeze(0), b.index_select(0, fold).squeeze(0), padding=1)
            h = F.max_pool2d(F.relu(h), 2)
        f = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        logits = F.linear(f, self.head_w.index_select(0, fold).squeeze(0), self.head_b.index_select(0, fold).squeeze(0))
        return torch.sigmoid(logits.index_select(1, self.columns))


def _fold_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """A bias-free convolution followed by eval-mode batch norm, as one convolution's weight and bias."""
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    return conv.weight.detach() * scale[:, None, None, None], bn.bias.detach() - bn.running_mean * scale


class LinesNet(nn.Module):
    """Ink map (N, 1, S, S) in [0, 1] -> figure logits (N, 1, S/4, S/4): which cells of the picture are the
    figure, from its lines alone (``pipeline.filter.lines``). A strided convolution and a pool bring it to
    a quarter of the side, then dilated convolutions (1, 2, 4, 8) see some 60 cells around each: a
    character's lines (eyes, hair strands, folds) against a scene's."""

    def __init__(self, cfg: LinesNetConfig):
        super().__init__()
        w = cfg.width
        layers: list[nn.Module] = [nn.Conv2d(1, w, 3, stride=2, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
                                   nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(inplace=True)]
        for d in (1, 2, 4, 8):
            layers += [nn.Conv2d(2 * w, 2 * w, 3, padding=d, dilation=d), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(2 * w, 1, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)
