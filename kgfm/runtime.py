"""Process-level settings for commands that load a model once and then answer (``kgfm serve``, ``kgfm qa``).

Loading imports torch and transformers and builds the model: ~430,000 Python objects that live
as long as the process. While they are made, CPython's cyclic garbage collector runs again and
again over the growing heap (963 young and 6 full collections, 1.6 s of a 10 s ``kgfm serve``
start on the 2-core box), finding almost nothing to free. :func:`paused_gc` turns it off for the
load and then *freezes* what was loaded (:func:`gc.freeze`): those objects are moved out of the
collector's generations, so later collections, during requests, only look at new objects.

The cost: cyclic garbage made during the load is kept. Measured on the sample model: ~11,500
small objects (function closures, tuples), no tensors (:func:`kgfm.qa.quantize._quantize_dynamic`
releases the float weights it replaces itself).
"""

from __future__ import annotations

import contextlib
import gc
from typing import Iterator


@contextlib.contextmanager
def paused_gc(freeze: bool = True) -> Iterator[None]:
    """No cyclic garbage collection inside the block; afterwards (also on an error) the objects
    made are frozen (``freeze``) and collection is re-enabled if it was enabled.

    Args:
        freeze: Move every object alive at the end into the permanent generation.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if enabled:
            gc.enable()
