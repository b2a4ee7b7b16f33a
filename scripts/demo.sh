#!/usr/bin/env bash
# The main job end to end on the embedded store with the bundled sample graph (graphs/):
# build the graph, analyse it, train the GNN encoder + FAISS index, pretrain the fusion model,
# fine-tune it for QA, answer questions with evidence. Installs what it needs (scripts/setup.sh).
# Outputs: .kgfm/ (store) and runs/ (models). To keep it to ~10-15 minutes on a 2-core CPU the demo
# shortens pretraining and fine-tuning (KGFM_DEMO_PRETRAIN_STEPS, default 40; KGFM_DEMO_FINETUNE_MINUTES,
# default 4); the configs themselves hold the full settings (e.g. 600 pretraining steps).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
kgfm() { .venv/bin/kgfm "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

STORE=.kgfm/graph.lbug   # the default store path (kgfm.config.StoreConfig)
step "1/7 build the graph store (LadybugDB, embedded)"
kgfm build-graph graphs/movies_kb.txt --path "$STORE"
step "2/7 graph statistics"
kgfm stats --path "$STORE" --out runs/stats
kgfm cypher 'MATCH (m:Entity)-[:directed_by]->(d:Entity) RETURN d.name AS director, count(m) AS films ORDER BY films DESC, director LIMIT 5' --path "$STORE"
step "3/7 GNN encoder (CompGCN + ComplEx) trained by link prediction, FAISS entity index"
kgfm train --stage graph --config configs/graph.yaml
kgfm neighbors "Orchard of Havana" -k 5
step "4/7 KG-aligned pretraining corpus (descriptions + verbalised triples, several wordings per relation)"
kgfm corpus --path "$STORE" --out runs/corpus/movies --relation-text configs/metaqa_relation_templates_v2.tsv
step "5/7 knowledge pretraining of the fusion transformer (MLM + masked-entity prediction)"
kgfm train --stage pretrain --config configs/pretrain.yaml --set train.steps="${KGFM_DEMO_PRETRAIN_STEPS:-40}" \
    --set optim.warmup=4 --set train.eval_every=20 --set train.save_every=20
step "6/7 QA fine-tuning from the pretrained checkpoint"
kgfm train --stage finetune --config configs/finetune_sample.yaml --set run.max_minutes="${KGFM_DEMO_FINETUNE_MINUTES:-4}"
step "7/7 questions, answered with KG entities and evidence paths"
kgfm qa "which films was Rosa Kimura in"
kgfm qa "who are the directors of the films [Diana Abbott] starred in" --json | head -40
printf '\nDone. Store: %s  Models: runs/  Try: .venv/bin/kgfm qa "who wrote Orchard of Havana"\n' "$STORE"
