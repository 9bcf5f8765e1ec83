"""How the browser tests (and docs/screenshots.py) start Debian's chromium: Playwright's own
browser download is not possible here, and without these flags chromium keeps trying to reach
Google's services on a machine with no internet."""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
