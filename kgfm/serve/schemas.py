"""Request bodies and server limits (pydantic, ``extra="forbid"``: a misspelt field is a 422 naming it)."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import Field, field_validator, model_validator

from kgfm.config import StrictModel

MAX_QUESTION_CHARS = 1000


class ServeSettings(StrictModel):
    """Limits and knobs of one server (``kgfm serve`` options)."""

    max_body_bytes: int = Field(64 * 1024, ge=256, description="larger request bodies get 413")
    max_questions: int = Field(64, ge=1, description="questions per POST /qa; more get 422")
    max_top_k: int = Field(50, ge=1, description="largest top_k accepted")
    max_rows: int = Field(1000, ge=1, description="row cap of POST /cypher")
    max_neighbors: int = Field(100, ge=1, description="largest k of /entities/{id}/neighbors")
    max_batch: int = Field(32, ge=1, description="most questions per encoder pass")


class QARequest(StrictModel):
    """``{"question": "..."}`` (answer: one object) or ``{"questions": [...]}`` (answer: a list)."""

    question: Optional[str] = Field(None, min_length=1, max_length=MAX_QUESTION_CHARS,
                                    description="one question; [brackets] around the entity optional")
    questions: Optional[list[str]] = Field(None, min_length=1, description="several questions (a list comes back)")
    top_k: int = Field(5, ge=1, description="answers per question")
    evidence: bool = Field(True, description="read the KG paths behind each answer from the store")

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not value.strip():
            raise ValueError("empty question")
        return value

    @field_validator("questions")
    @classmethod
    def _items(cls, value: Optional[list[str]]) -> Optional[list[str]]:
        for i, q in enumerate(value or []):
            if not q.strip():
                raise ValueError(f"item {i} is an empty question")
            if len(q) > MAX_QUESTION_CHARS:
                raise ValueError(f"item {i} is longer than {MAX_QUESTION_CHARS} characters")
        return value

    @model_validator(mode="after")
    def _one_of(self) -> "QARequest":
        if (self.question is None) == (self.questions is None):
            raise ValueError("give exactly one of question or questions")
        return self


class CypherRequest(StrictModel):
    """A read-only Cypher query; values go in ``params``."""

    query: str = Field(..., min_length=1, description="Cypher (read-only)")
    params: dict[str, Any] = Field(default_factory=dict, description="query parameters")
    max_rows: Optional[int] = Field(None, ge=1, description="row cap (at most the server's)")
