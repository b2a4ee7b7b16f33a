"""Turning known failures into one clear line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator

import typer


def _known_errors() -> tuple[type[BaseException], ...]:
    from kgfm.artifacts import ArtifactError
    from kgfm.config import ConfigError
    from kgfm.sources.records import SourceError
    from kgfm.store.base import StoreError

    return (ArtifactError, ConfigError, SourceError, StoreError, FileNotFoundError, FileExistsError)


@contextlib.contextmanager
def friendly_errors() -> Iterator[None]:
    """Print ``kgfm: <message>`` for the project's own error types and exit 2.

    Stage-specific error types subclass one of the known ones, so they are covered too.
    """
    try:
        yield
    except KeyboardInterrupt:
        print("kgfm: interrupted", file=sys.stderr)
        raise typer.Exit(130) from None
    except _known_errors() as exc:
        print(f"kgfm: error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
