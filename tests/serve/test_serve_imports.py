"""Start-up cost: answering with a QA model must not import the graph-training stack.

PyG (and, through it, torch._dynamo and PyG's LLM/datasets modules) was about half of the CPU
``kgfm serve`` spent before its first answer, pulled in only for the link-prediction decoders the
fusion model's KG head shares with the graph encoder (now in ``kgfm.encoder.decoders``). pandas
(~0.5 s) is only for the embedded store's writes; reading the graph must not import it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch_geometric", "pandas")  # pandas: pyarrow's ChunkedArray.to_numpy imported it (~0.5 s)

CODE = """
import sys
from pathlib import Path
from kgfm.serve.engine import ServeEngine
engine = ServeEngine.load(Path(sys.argv[1]))
out = engine.answer(["who directed [Orchard of Havana]"], 3, True)
assert out and not out[0].get("error"), out
print(",".join(m for m in sys.argv[2:] if m in sys.modules) or "none")
"""


def test_loading_and_answering_imports_no_pyg_and_no_pandas(sample_model: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", CODE, str(sample_model), *HEAVY], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "none"
