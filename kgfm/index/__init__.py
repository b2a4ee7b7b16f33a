"""FAISS entity index over the encoder's embeddings (:class:`~kgfm.index.entity_index.EntityIndex`)."""

from kgfm.index.entity_index import EntityIndex, UnknownEntityError

__all__ = ["EntityIndex", "UnknownEntityError"]
