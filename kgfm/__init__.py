"""kgfm: knowledge-graph-augmented models.

Stages, in data-flow order (a later stage may import an earlier one, never the reverse):
``sources`` -> ``store`` -> ``encoder`` -> ``index`` -> ``fusion`` -> ``qa``.
"""

__version__ = "0.1.0"
