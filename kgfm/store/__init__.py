"""Stage 2: the graph store (embedded LadybugDB or Neo4j) and the loader that fills it."""

from kgfm.store.base import GraphCounts, GraphStore, GraphTensors, Neighbor, PathResult, StoreError

__all__ = ["GraphCounts", "GraphStore", "GraphTensors", "Neighbor", "PathResult", "StoreError"]
