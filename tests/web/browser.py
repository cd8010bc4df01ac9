"""Playwright driving Debian's Chromium (no browser download: the executable is /usr/bin/chromium)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
DOC_IMAGES = ROOT / "docs" / "images"


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


def publish(src: Path, name: str) -> None:
    """Copy a screenshot into docs/images for the README: when it is missing there, or when
    TASKRAFT_UPDATE_DOC_IMAGES=1 (so ordinary test runs leave the committed images alone)."""
    dest = DOC_IMAGES / name
    if dest.exists() and os.environ.get("TASKRAFT_UPDATE_DOC_IMAGES") != "1":
        return
    DOC_IMAGES.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
