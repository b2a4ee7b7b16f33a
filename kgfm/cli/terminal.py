"""Text from the graph or the user, made safe to print on a terminal.

Entity ids, names and values come from user files; printed raw, an ESC sequence in one could
move the cursor, recolour or retitle the terminal, and rich would read ``[...]`` in it as markup.
:func:`printable` writes every control character (C0, DEL, C1) and the bidirectional-override
characters as visible escapes (``\\x1b``, ``\\u202e``); newlines too unless ``keep_newlines``.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_NL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    if code == 0x0A:
        return "\\n"
    if code == 0x09:
        return "\\t"
    if code == 0x0D:
        return "\\r"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, keep_newlines: bool = False) -> str:
    """``text`` with control and bidi-override characters escaped.

    Args:
        text: Any string.
        keep_newlines: Leave ``\\n`` and ``\\t`` as they are (for multi-line reports).
    """
    return (_UNSAFE if keep_newlines else _UNSAFE_NL).sub(_escape, text)


def json_printable(text: str) -> str:
    """JSON text (already valid) with the C1 and bidi characters ``json.dumps`` leaves raw as ``\\uXXXX``."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
