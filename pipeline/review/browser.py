"""The real browser the review tests and the screenshot script drive: Debian's Chromium through Playwright.

Playwright's own browser download needs the internet; ``make install`` installs Debian's ``chromium``
(``/usr/bin/chromium``, or ``$LINECOLOR_CHROMIUM``) and Playwright drives it by ``executable_path``.
"""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = Path(os.environ.get("LINECOLOR_CHROMIUM", "/usr/bin/chromium"))
ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update")
HOW_TO = "no Chromium at {path}: `make install` installs it as root, or run `sudo apt-get install -y chromium`"


def launch(playwright):
    """A headless Chromium (``playwright.chromium.launch``) with the flags a shared, offline machine needs."""
    if not CHROMIUM.exists():
        raise RuntimeError(HOW_TO.format(path=CHROMIUM))
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(ARGS), headless=True)
