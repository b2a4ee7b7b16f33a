"""Extract (and optionally run) the ```python block of README.md's "Python" section.

Used by tests/misc/test_readme_python.py and by scripts/wheel_check.sh (against the installed wheel,
from an empty folder): ``python tests/readme_python.py README.md --run``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def python_block(readme: Path, section: str = "Python") -> str:
    """The first ```python fenced block after the heading ``## … {section}``."""
    text = readme.read_text(encoding="utf-8")
    heading = re.search(rf"^##+ .*\b{re.escape(section)}\b.*$", text, flags=re.MULTILINE)
    if heading is None:
        raise SystemExit(f"{readme}: no '## {section}' section")
    block = re.search(r"^```python\n(.*?)^```", text[heading.end():], flags=re.MULTILINE | re.DOTALL)
    if block is None:
        raise SystemExit(f"{readme}: the '{section}' section has no ```python block")
    return block.group(1)


if __name__ == "__main__":
    code = python_block(Path(sys.argv[1]))
    if "--run" in sys.argv[2:]:
        exec(compile(code, f"{sys.argv[1]}:Python", "exec"), {"__name__": "__main__"})
    else:
        print(code)
