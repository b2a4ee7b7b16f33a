"""Config loading shared by every command: YAML file -> pydantic model -> CLI overrides.

Every stage defines its own pydantic model (``extra="forbid"``, so a typo in a YAML key is
an error naming the field). :func:`load_config` reads a YAML file, applies ``--set
a.b=value`` style overrides and validates; :func:`save_config` writes the resolved config
next to what a command produced.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, Mapping, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(Exception):
    """A config file or override that does not validate; the message names the field."""


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class StoreConfig(StrictModel):
    """Where the graph lives. Neo4j credentials come from env vars, never from the command line.

    Env: ``KGFM_NEO4J_URI``, ``KGFM_NEO4J_USER``, ``KGFM_NEO4J_PASSWORD``, ``KGFM_NEO4J_DATABASE``.
    """

    backend: Literal["embedded", "neo4j"] = "embedded"
    path: Path = Path(".kgfm/graph.lbug")
    neo4j_uri: str | None = None
    neo4j_user: str | None = None
    neo4j_database: str | None = None
    batch_size: int = Field(10_000, ge=1, description="rows per UNWIND batch (Neo4j)")
    buffer_pool_mb: int = Field(1024, ge=64, description="LadybugDB buffer pool")

    def resolved_neo4j(self) -> tuple[str, str, str, str | None]:
        """(uri, user, password, database) from config, then env; password from env only."""
        uri = self.neo4j_uri or os.environ.get("KGFM_NEO4J_URI")
        if not uri:
            raise ConfigError("store.neo4j_uri: not set (set it in the config or KGFM_NEO4J_URI)")
        user = self.neo4j_user or os.environ.get("KGFM_NEO4J_USER", "neo4j")
        password = os.environ.get("KGFM_NEO4J_PASSWORD")
        if password is None:
            raise ConfigError("KGFM_NEO4J_PASSWORD: not set (Neo4j passwords are read from the environment only)")
        database = self.neo4j_database or os.environ.get("KGFM_NEO4J_DATABASE") or None
        return uri, user, password, database


def _set_path(tree: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"{dotted}: {key!r} is not a section")
        node = child
    node[keys[-1]] = value


def parse_overrides(pairs: list[str] | None) -> dict[str, Any]:
    """``["a.b=3", "c=x"]`` -> ``{"a.b": 3, "c": "x"}`` (values parsed as YAML scalars)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ConfigError(f"--set {pair!r}: expected KEY=VALUE")
        key, raw = pair.split("=", 1)
        out[key.strip()] = yaml.safe_load(raw) if raw != "" else ""
    return out


def load_config(model: type[M], path: Path | None = None, overrides: Mapping[str, Any] | None = None) -> M:
    """Read ``path`` (YAML; optional), apply dotted ``overrides`` whose value is not None, validate.

    Raises:
        ConfigError: with the file and the failing field(s) named.
    """
    tree: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {exc}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: top level must be a mapping")
        tree = loaded or {}
    for key, value in (overrides or {}).items():
        if value is not None:
            _set_path(tree, key, value)
    try:
        return model.model_validate(tree)
    except ValidationError as exc:
        where = f"{path}: " if path else ""
        problems = "; ".join(_describe(model, err) for err in exc.errors())
        raise ConfigError(f"{where}{problems}") from None


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The valid keys of the section that ``loc`` (minus its last part) points into."""
    current: Any = model
    for part in loc[:-1]:
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in fields:
            return []
        annotation = fields[part].annotation
        for candidate in (annotation, *getattr(annotation, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                current = candidate
                break
        else:
            return []
    return list(getattr(current, "model_fields", {}))


def _describe(model: type[BaseModel], err: Mapping[str, Any]) -> str:
    """One validation problem as ``a.b: message``, with the nearest valid key for a typo."""
    loc = tuple(err["loc"])
    where = ".".join(str(p) for p in loc) or "<root>"
    if err.get("type") == "extra_forbidden" and loc:
        import difflib

        valid = _fields_at(model, loc)
        close = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.6)
        hint = f"did you mean {'.'.join(str(p) for p in (*loc[:-1], close[0]))!r}?" if close else (
            f"valid keys here: {', '.join(valid)}" if valid else "")
        return f"{where}: unknown key" + (f"; {hint}" if hint else "")
    return f"{where}: {err['msg']}"


def save_config(config: BaseModel, path: Path) -> Path:
    """Write ``config`` as YAML to ``path`` atomically (tmp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False), encoding="utf-8")
    os.replace(tmp, path)
    return path
