"""Shared by the small bench scripts: print a result document and save it as JSON."""

from __future__ import annotations

import json
from pathlib import Path


def emit(doc: dict, out: Path | None) -> None:
    """Print ``doc`` as indented JSON and, when ``out`` is given, write the same text there."""
    text = json.dumps(doc, indent=1)
    if out:
        out.write_text(text + "\n")
    print(text)
