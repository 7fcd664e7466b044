"""The colorizer: pix2pix networks (``model``), their training (``train``, ``runs``) on the split's shards.

``model`` holds the modules and their configs; ``config`` the train stage's settings; ``data`` and
``augment`` stream the shards; ``losses``; ``train`` is the one training loop, ``runs`` the stage's runs
(trivial baseline, colorizer, L1 baseline); ``checkpoint`` the resumable state and the model file;
``validate``, ``live`` (DVCLive) and ``distributed`` (torchrun) support it.

Names are re-exported lazily, so importing the package (as ``python -m pipeline.colorize``, which is to
colour with onnxruntime alone) does not import torch.
"""

import importlib

_EXPORTS = {
    "GeneratorConfig": "model", "DiscriminatorConfig": "model", "UNet": "model", "PatchGAN": "model",
    "TrainConfig": "config", "train_with_baselines": "runs", "fit": "train", "RunPaths": "train",
    "load_generator": "checkpoint", "save_model": "checkpoint", "TrivialBaseline": "baselines",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'pipeline.colorize' has no attribute {name!r}")
    return getattr(importlib.import_module(f"pipeline.colorize.{_EXPORTS[name]}"), name)
