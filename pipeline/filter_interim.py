"""The filter's decisions while its classifier and pixel rules are still being built (issue #10).

Every readable dedup representative is kept; every other post carries what dedup said of it (duplicate,
unreadable, not fetched). Nothing is rejected, so line art, the split and the colorizer see every distinct
readable picture, greyscale and comic pages included. The decisions have the real ``FILTER`` schema (scores
null), so the stages after it are the ones the real filter will feed, unchanged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def decide(images: pd.DataFrame) -> pd.DataFrame:
    """FILTER rows for DEDUP rows: keep | duplicate | unreadable | not_fetched."""
    ok = (images["status"] == "ok").to_numpy()
    keep = ok & images["keep"].to_numpy(bool)
    decision = np.where(keep, "keep", np.where(ok, "duplicate", images["status"].to_numpy()))
    return pd.DataFrame({
        "id": images["id"], "md5": images["md5"], "path": images["path"], "cluster": images["cluster"],
        "representative": images["keep"].astype(bool), "decision": decision, "keep": keep,
        "reason": np.where(keep | (decision == "duplicate"), "", images["reason"].fillna("").to_numpy()),
        "reasons": "", "width": images["width"], "height": images["height"],
        "p_small": np.nan, "p_clutter": np.nan,
    })
