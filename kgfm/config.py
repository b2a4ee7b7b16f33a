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
    neo4j_merge: bool = Field(False, description="Neo4j: MERGE instead of CREATE (several loaders at once; slower)")
    buffer_pool_mb: int = Field(1024, ge=64, description="LadybugDB buffer pool")

    def name(self) -> str:
        """The prefix of this store's own files (build reports, stats): the embedded store's file name
        without its suffix (``graph``), or ``neo4j-<database>`` (config, then ``KGFM_NEO4J_DATABASE``, else ``neo4j``)."""
        if self.backend == "embedded":
            return self.path.stem or self.path.name
        return f"neo4j-{self.neo4j_database or os.environ.get('KGFM_NEO4J_DATABASE') or 'neo4j'}"

    def home(self) -> Path:
        """Where this store's own files go: beside an embedded store, ``.kgfm`` for Neo4j."""
        return self.path.parent if self.backend == "embedded" else Path(".kgfm")

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


def _yaml_value(raw: str) -> Any:
    """A ``--set`` value: a YAML scalar or flow collection (``[1, 2]``, ``{a: 1}``); block syntax
    such as ``Jazz: Part 1`` stays the string it is."""
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"cannot read {raw!r} as a YAML value ({problem})") from None
    if isinstance(value, (dict, list)) and not raw.lstrip().startswith(("{", "[")):
        return raw
    return value


def parse_overrides(pairs: list[str] | None) -> dict[str, Any]:
    """``["a.b=3", "c=x"]`` -> ``{"a.b": 3, "c": "x"}`` (values read as YAML scalars).

    Raises:
        ConfigError: one line naming the ``--set`` item that cannot be read.
    """
    out: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ConfigError(f"--set {pair!r}: expected KEY=VALUE")
        key, raw = pair.split("=", 1)
        if not key.strip():
            raise ConfigError(f"--set {pair!r}: empty KEY")
        try:
            out[key.strip()] = _yaml_value(raw) if raw != "" else ""
        except ConfigError as exc:
            raise ConfigError(f"--set {pair!r}: {exc}") from None
    return out


PARAM_TYPES = ("str", "int", "float", "bool", "json")

SAMPLE_QA_MODEL = Path("runs/qa/sample/model")  # where configs/finetune_sample.yaml saves; the commands' default model


def _typed(name: str, kind: str, raw: str) -> Any:
    import json

    if kind == "str":
        return raw
    if kind == "int":
        try:
            return int(raw, 0) if raw.strip().lower().startswith(("0x", "0o", "0b")) else int(raw)
        except ValueError:
            raise ConfigError(f"--param {name}:int={raw!r}: not an integer") from None
    if kind == "float":
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"--param {name}:float={raw!r}: not a number") from None
    if kind == "bool":
        if raw.lower() not in ("true", "false"):
            raise ConfigError(f"--param {name}:bool={raw!r}: expected true or false")
        return raw.lower() == "true"
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ConfigError(f"--param {name}:json={raw!r}: invalid JSON ({exc})") from None


def parse_params(pairs: list[str] | None) -> dict[str, Any]:
    """Query parameters ``NAME=VALUE`` (a string, as written) or ``NAME:TYPE=VALUE``.

    ``TYPE`` is one of ``str``, ``int``, ``float``, ``bool`` (``true``/``false``) or ``json``
    (any JSON value: lists, maps, ``null``). Nothing is guessed: ``n=Yes`` is the string ``"Yes"``,
    ``n=0x10`` the string ``"0x10"``; ``n:int=0x10`` is 16.

    Raises:
        ConfigError: one line naming the ``--param`` item that cannot be read.
    """
    out: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ConfigError(f"--param {pair!r}: expected NAME=VALUE or NAME:TYPE=VALUE")
        key, raw = pair.split("=", 1)
        name, _, kind = key.strip().partition(":")
        kind = kind.strip().lower() or "str"
        if not name.isidentifier():
            raise ConfigError(f"--param {pair!r}: {name!r} is not a parameter name")
        if kind not in PARAM_TYPES:
            raise ConfigError(f"--param {pair!r}: unknown type {kind!r} (one of {', '.join(PARAM_TYPES)})")
        if name in out:
            raise ConfigError(f"--param {name}: given twice")
        out[name] = _typed(name, kind, raw)
    return out


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice (YAML 1.2 says keys are unique)."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            first = seen.get(key)
        except TypeError:
            continue  # unhashable key; construct_mapping reports it
        line = key_node.start_mark.line + 1
        if first is not None:
            raise ConfigError(f"{line}: duplicate key {key!r} (first at line {first})")
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def read_yaml(path: Path) -> Any:
    """A YAML file, parsed strictly: unreadable files, invalid YAML and duplicate keys are one-line errors.

    Raises:
        ConfigError: naming the file (and line where known).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a YAML config file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except ConfigError as exc:
        raise ConfigError(f"{path}:{exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}{where}: invalid YAML: {problem}") from None


def load_config(model: type[M], path: Path | None = None, overrides: Mapping[str, Any] | None = None) -> M:
    """Read ``path`` (YAML; optional), apply dotted ``overrides`` whose value is not None, validate.

    ``path`` may name a bundled sample: ``sample:graph`` is the packaged ``configs/graph.yaml``.

    Raises:
        ConfigError: with the file and the failing field(s) named.
        kgfm.samples.SampleError: ``sample:NAME`` names no bundled config (the available ones listed).
    """
    from kgfm.samples import resolve

    tree: dict[str, Any] = {}
    if path is not None:
        path = resolve(path, "configs")
        loaded = read_yaml(Path(path))
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
    from kgfm.artifacts import write_text_atomic

    return write_text_atomic(path, yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
