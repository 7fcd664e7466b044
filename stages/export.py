"""DVC stage `export`: the colorizer as ONNX (dynamic batch, height, width), checked against torch.

    python -m stages.export --model models/colorizer.pt --out models/colorizer.onnx --metrics metrics/export.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.colorize.config import ExportConfig
from pipeline.colorize.export import ParityError, export
from pipeline.config import cli, load_keys, load_section, write_metrics
from pipeline.lineart.config import Extraction


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m stages.export", description=__doc__.splitlines()[0])
    for name in ("model", "out", "metrics"):
        ap.add_argument(f"--{name}", required=True, type=Path)
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    a = ap.parse_args(argv)
    cfg = load_section(a.params, "export", ExportConfig)
    lines = load_keys(a.params, "lineart", Extraction)  # written into the model: colour inputs get training's lines
    try:
        m = export(a.model, a.out, cfg, lines)
    except ParityError as exc:
        write_metrics(a.metrics, {"parity": exc.args[1]})
        print(f"export: {exc.args[0]}; {a.out} not written", file=sys.stderr)
        return 1
    write_metrics(a.metrics, m)
    p = m["parity"]
    print(f"export: {a.out} ({m['bytes'] / 1e3:,.0f} kB, input {m['input_shape']}); parity with torch: max |diff| "
          f"{p['max_abs_diff']:.2e} over {len(p['per_size'])} sizes x {p['batch']} (tolerance {p['tolerance']:g})")
    return 0


if __name__ == "__main__":
    sys.exit(cli(main))
