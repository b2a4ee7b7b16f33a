"""Stage 1: streaming readers for RDF, delimited triple files and entity text files."""

from kgfm.sources.records import EntityInfo, Record, Reject, SourceError, Triple

__all__ = ["EntityInfo", "Record", "Reject", "SourceError", "Triple"]
