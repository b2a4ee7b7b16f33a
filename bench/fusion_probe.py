"""What a trained fusion model's layers do: attention mass per candidate kind and gate openness.

Runs a saved ``fusion-model`` (``kgfm train --stage pretrain`` output, or a fine-tuned QA model's
``model/encoder/model``) over validation records of
its corpus, as pretraining evaluates them (masked targets hidden), and reports per fusion layer,
over the linked mentions (the ones with a known entity, so relation views when the model has them):

* attention mass on the linked entity itself, on the FAISS-retrieved entities and on the relation
  views (``model.relation_views``);
* the mean gate (``sigmoid`` per dimension, averaged), for linked and for unlinked mentions.

    python bench/fusion_probe.py --model runs/pretrain/metaqa-sub-3k-views/model \
        --index runs/graph-metaqa-sub-e1/index --corpus runs/corpus/metaqa --records 500
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from _emit import emit  # noqa: E402  (bench/, the script's own folder)


def probe(model_dir: Path, index_dir: Path, corpus: Path, records: int, batch_size: int = 32) -> dict:
    import torch

    from kgfm.fusion.corpus import read_corpus
    from kgfm.fusion.model import KnowledgeFusionModel
    from kgfm.fusion.objectives import PretrainCollator
    from kgfm.hf import offline_env
    from kgfm.index.entity_index import EntityIndex

    offline_env()
    index = EntityIndex.load(index_dir, use_gpu=False)
    model = KnowledgeFusionModel.from_pretrained(model_dir, index).eval()
    # a pretraining output keeps its tokenizer inside; a QA model's encoder keeps it beside (encoder/tokenizer)
    tok_dir = model_dir if (model_dir / "tokenizer").is_dir() else model_dir.parent
    tokenizer = KnowledgeFusionModel.load_tokenizer(tok_dir)
    recs = [r for r in read_corpus(corpus, "valid") if r["mentions"]][:records]
    collator = PretrainCollator(tokenizer, 32)
    gen = torch.Generator().manual_seed(0)
    sums: list[dict[str, float]] = [dict.fromkeys(("linked", "retrieved", "views", "gate_linked", "gate_unlinked",
                                                   "n_linked", "n_unlinked"), 0.0) for _ in model.fusion_layers]
    with torch.no_grad():
        for i in range(0, len(recs), batch_size):
            batch = collator(recs[i : i + batch_size], gen, evaluation=True)
            out = model(batch["input_ids"], batch["attention_mask"], batch["mention_spans"],
                        batch["mention_entities"], entity_queries=False)
            valid = (batch["mention_spans"][..., 0] >= 0)
            linked = valid & (batch["mention_entities"] >= 0)
            unlinked = valid & ~linked
            for s, tr in zip(sums, out.traces):
                s["linked"] += float(tr.attention[..., 0][linked].sum())
                s["retrieved"] += float(tr.attention[..., 1:].sum(-1)[linked].sum())
                if tr.view_attention is not None:
                    s["views"] += float(tr.view_attention.sum(-1)[linked].sum())
                gate = tr.gate.mean(-1)
                s["gate_linked"] += float(gate[linked].sum())
                s["gate_unlinked"] += float(gate[unlinked].sum())
                s["n_linked"] += float(linked.sum())
                s["n_unlinked"] += float(unlinked.sum())
    layers = []
    for pos, s in zip(model.config.fusion_layers, sums):
        n, u = max(s["n_linked"], 1.0), max(s["n_unlinked"], 1.0)
        layers.append({"after_layer": pos, "linked_mentions": int(s["n_linked"]), "unlinked_mentions": int(s["n_unlinked"]),
                       "attention_linked_entity": s["linked"] / n, "attention_retrieved": s["retrieved"] / n,
                       "attention_relation_views": s["views"] / n,
                       "gate_linked": s["gate_linked"] / n, "gate_unlinked": s["gate_unlinked"] / u})
    return {"model": str(model_dir), "records": len(recs), "relation_views": model.config.relation_views,
            "layers": layers}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, required=True, nargs="+", help="saved fusion model(s)")
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--records", type=int, default=500)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    doc = {"probes": [probe(m, args.index, args.corpus, args.records) for m in args.model],
           "command": " ".join(["python", "bench/fusion_probe.py", *sys.argv[1:]])}
    emit(doc, args.out)


if __name__ == "__main__":
    main()
