"""``kgfm serve``: the QA engine behind HTTP (FastAPI + uvicorn) and the evidence-graph page.

Only :mod:`kgfm.serve.engine` touches :mod:`kgfm.qa`, :mod:`kgfm.store` and :mod:`kgfm.index`;
the app (:mod:`kgfm.serve.app`), the worker thread (:mod:`kgfm.serve.worker`) and the page
(``static/``) depend on it alone.
"""
