"""The sample configs agree on their paths: every store, index, corpus and checkpoint a config reads is
written by another config in configs/ (or by a command its header comment gives), and the bundled
sample chain uses the default store path."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from kgfm.config import StoreConfig

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _load_all() -> dict[str, tuple[dict, str]]:
    """Every config as (parsed YAML, raw text)."""
    out = {}
    for path in sorted(CONFIGS.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        out[path.name] = (yaml.safe_load(text) or {}, text)
    return out


def _produced() -> tuple[set[str], set[str], set[str], set[str]]:
    """(stores, indexes, corpora, models) written by the configs or the commands in their comments."""
    stores, indexes, corpora, models = set(), set(), set(), set()
    default_store = str(StoreConfig().path)
    for name, (cfg, text) in _load_all().items():
        out_dir = (cfg.get("run") or {}).get("output_dir")
        if out_dir and "model" in cfg and "decoder" in (cfg.get("model") or {}):
            indexes.add(f"{out_dir}/index")              # a graph-stage config
        elif out_dir:
            models.add(f"{out_dir}/model")               # pretrain / finetune
        for line in text.splitlines():
            if not line.lstrip().startswith("#"):
                continue
            if "kgfm build-graph" in line:
                m = re.search(r"--path (\S+)", line)
                stores.add(m.group(1) if m else default_store)
            if "kgfm corpus" in line:
                corpora.add(re.search(r"--out (\S+)", line).group(1))
            m = re.search(r"--set run\.output_dir=(\S+)", line)
            if m:
                indexes.add(f"{m.group(1)}/index")
    return stores, indexes, corpora, models


def test_every_read_path_is_written_by_some_config() -> None:
    stores, indexes, corpora, models = _produced()
    default_store = str(StoreConfig().path)
    checked = 0
    for name, (cfg, _) in _load_all().items():
        store = (cfg.get("store") or {}).get("path")
        if store is not None:
            assert store in stores, f"{name}: store.path {store} is built by no command in configs/"
            checked += 1
        index = cfg.get("index")
        if isinstance(index, str):
            assert index in indexes, f"{name}: index {index} is written by no graph config ({sorted(indexes)})"
            checked += 1
        corpus = cfg.get("corpus")
        if isinstance(corpus, str):
            assert corpus in corpora, f"{name}: corpus {corpus} is written by no `kgfm corpus` line"
            checked += 1
        ckpt = (cfg.get("encoder") or {}).get("checkpoint")
        if ckpt and (cfg.get("encoder") or {}).get("init") == "pretrained":
            assert ckpt in models, f"{name}: encoder.checkpoint {ckpt} is written by no pretrain config"
            checked += 1
    assert checked >= 15
    assert default_store in stores


def test_sample_chain_uses_the_default_store_path() -> None:
    default_store = str(StoreConfig().path)
    assert default_store == ".kgfm/graph.lbug"
    configs = _load_all()
    for name in ("graph.yaml", "finetune_sample.yaml"):
        assert configs[name][0]["store"]["path"] == default_store, name
    demo = (CONFIGS.parent / "scripts" / "demo.sh").read_text(encoding="utf-8")
    assert f"STORE={default_store}" in demo
    assert "movies.lbug" not in demo
    assert all("movies.lbug" not in text for _, text in configs.values())
    # the graph stage of the sample writes the index the later sample stages read
    assert configs["graph.yaml"][0]["run"]["output_dir"] + "/index" == configs["pretrain.yaml"][0]["index"]
    assert configs["finetune_sample.yaml"][0]["index"] == configs["pretrain.yaml"][0]["index"]


def test_metaqa_graph_config_writes_the_index_the_metaqa_stages_read() -> None:
    configs = _load_all()
    written = configs["graph_metaqa.yaml"][0]["run"]["output_dir"] + "/index"
    for name in ("metaqa.yaml", "metaqa_1hop.yaml", "metaqa_2hop.yaml", "metaqa_3hop.yaml",
                 "pretrain_metaqa.yaml", "finetune_generated_metaqa_1hop.yaml"):
        assert configs[name][0]["index"] == written, name


def test_demo_reads_only_files_the_repository_has() -> None:
    import re

    demo = (CONFIGS.parent / "scripts" / "demo.sh").read_text(encoding="utf-8")
    paths = set(re.findall(r"\b(?:configs|graphs)/[\w./-]+", demo))
    assert "configs/metaqa_relation_templates_v2.tsv" in paths  # the corpus step words relations several ways
    missing = sorted(p for p in paths if not (CONFIGS.parent / p).is_file())
    assert not missing, missing


def test_second_templates_file_keeps_the_first_ones_lines_in_order() -> None:
    """configs/metaqa_relation_templates_v2.tsv says it is the first file's lines, in order, plus additions."""

    def lines(name: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for line in (CONFIGS / name).read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                rel, text = line.split("\t")
                out.setdefault(rel, []).append(text)
        return out

    first, second = lines("metaqa_relation_templates.tsv"), lines("metaqa_relation_templates_v2.tsv")
    assert list(second) == list(first)  # the same relations, in the same order
    for rel, texts in first.items():
        assert second[rel][: len(texts)] == texts, rel  # the name-derived wording stays first
    assert sum(map(len, second.values())) - sum(map(len, first.values())) == 13
