"""The classifier's networks: a small CNN with one logit per head, and the k fold models as one graph.

Only modules and their config live here (nanoGPT's rule); training is ``pipeline.filter.train``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

HEADS = ("small", "clutter")  # P(character too small), P(drawing too cluttered): the classifier's outputs


@dataclass(frozen=True)
class NetConfig:
    width: int  # channels of the first block; doubled per block up to 4x
    blocks: int  # conv blocks, each halving the side (64 px -> 4 px after 4)


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
    """The k fold models as one graph: each picture is scored by the model of its fold, the one that never
    trained on it (``fold`` in 0..k-1, from ``pipeline.filter.train.fold_of``). Output: one probability
    per head, from its verdict logit where ``use_verdicts`` says so (enough verdicts), else its tag logit."""

    def __init__(self, models: list[FilterNet], use_verdicts: list[bool]):
        super().__init__()
        self.models = nn.ModuleList(models)
        columns = [k + (len(HEADS) if v else 0) for k, v in enumerate(use_verdicts)]
        self.register_buffer("columns", torch.tensor(columns, dtype=torch.int64))

    def forward(self, x: torch.Tensor, fold: torch.Tensor) -> torch.Tensor:
        probs = torch.stack([torch.sigmoid(m(x).index_select(1, self.columns)) for m in self.models], dim=1)
        pick = (fold.unsqueeze(1) == torch.arange(len(self.models), device=x.device).unsqueeze(0)).to(x.dtype)
        return (probs * pick.unsqueeze(2)).sum(dim=1)
