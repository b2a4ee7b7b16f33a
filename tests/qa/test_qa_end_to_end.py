"""Fine-tune a tiny random BERT (fusion on a real FAISS index) on a hand-made KB in a real
LadybugDB store, then answer with evidence, export int8, and use the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.qa.tiny import tiny_bert, train_tiny_qa

TINY_BERT = tiny_bert(layers=2)

@pytest.fixture(scope="module")
def trained(tmp_path_factory, qa_inputs) -> dict:
    """One fine-tuning run shared by the tests of this module (a few seconds)."""
    root = tmp_path_factory.mktemp("qa")
    kb, qa = qa_inputs
    out = train_tiny_qa(root, kb, qa, layers=2, fusion_layers=(1,), overrides={
        "optim": {"lr": 1e-3, "head_lr": 2e-2},
        "train": {"epochs": 8, "batch_size": 10, "patience": 8, "eval_fusion_off": True},
    })
    return {"root": root, **out}


def test_fine_tuning_fits_the_training_questions(trained):
    s = trained["summary"]
    assert s["best_valid_hits1"] >= 0.9, s["history"][-3:]
    assert s["history"][0]["train_loss"] > s["history"][-1]["train_loss"]
    out = trained["root"] / "run"
    for name in ("metrics.json", "curve.png", "config.yaml", "model/manifest.json", "last/optimizer.safetensors"):
        assert (out / name).is_file(), name
    assert "valid_hits1_no_fusion" in s["history"][0]


def test_answers_come_with_topic_evidence_paths_and_cypher(trained):
    from kgfm.qa.answer import QAEngine, UnlinkableQuestionError

    engine = QAEngine.load(trained["root"] / "run" / "model")
    try:
        result = engine.answer_one("which movies did Bette Davis act in", top_k=3)
        assert result.topic["id"] == "Bette Davis"
        assert {a.id for a in result.answers} == {"Juarez", "Jezebel", "The Letter"}
        best = result.answers[0]
        assert best.paths, "no evidence path read from the store"
        assert best.paths[0]["nodes"] == ["Bette Davis", best.id]
        assert "starred_actors" in best.paths[0]["text"]
        assert result.cypher.startswith("MATCH p = (n0:Entity {id: \"Bette Davis\"})<-[:`starred_actors`]-")
        assert result.cypher.count("UNION") >= 2
        with pytest.raises(UnlinkableQuestionError, match="no entity of the knowledge graph"):
            engine.answer_one("what is the meaning of all this")
        batch = engine.answer(["who directed Kismet", "zzz qqq", "when was [Morocco] released"], top_k=1)
        assert [r.error is None for r in batch] == [True, False, True]
        assert batch[0].answers[0].id == "William Dieterle"
    finally:
        engine.close()


def test_resume_continues_from_the_last_epoch(trained):
    from kgfm.qa.finetune import finetune

    cfg = trained["cfg"].model_copy(deep=True)
    cfg.train.epochs = trained["summary"]["epochs_run"] + 1
    summary = finetune(cfg, trained["graph"], trained["index"], resume=True, progress=False)
    assert [h["epoch"] for h in summary["history"]][-2:] == [cfg.train.epochs - 1, cfg.train.epochs]


def test_int8_export_round_trip(trained):
    from kgfm.qa.answer import QAEngine
    from kgfm.qa.checkpoint import load_qa_model
    from kgfm.qa.ranking import encode_questions
    from kgfm.qa.quantize import export_int8, load_quantized
    from kgfm.qa.data import link_questions, PreparedQuestions
    from kgfm.fusion.linking import EntityLinker

    model_dir = trained["root"] / "run" / "model"
    dest = trained["root"] / "int8"
    manifest = export_int8(model_dir, dest, trained["graph"], trained["index"])
    assert manifest["int8_encoder_bytes"] < manifest["fp32_encoder_bytes"]
    fp32, _ = load_qa_model(model_dir, trained["graph"], trained["index"])
    int8, _ = load_quantized(dest, trained["graph"], trained["index"])
    assert "DynamicQuantizedLinear" in repr(int8.encoder.backbone)
    texts, mentions, topics = link_questions(["who directed [Kismet]", "when was [Juarez] released"],
                                             EntityLinker.from_tensors(trained["graph"]))
    prepared = PreparedQuestions(texts, mentions, topics, [np.zeros(0, dtype=np.int64)] * 2)
    a = encode_questions(fp32.encoder, prepared)
    b = encode_questions(int8.encoder, prepared)
    assert torch.nn.functional.cosine_similarity(a, b).min() > 0.98
    engine = QAEngine.load(dest)
    try:
        assert engine.answer_one("who directed [Juarez]", top_k=1).answers[0].id == "William Dieterle"
    finally:
        engine.close()


def test_cli_json_and_unlinkable_question(trained):
    from typer.testing import CliRunner

    from kgfm.cli.main import app

    model_dir = str(trained["root"] / "run" / "model")
    runner = CliRunner()
    ok = runner.invoke(app, ["qa", "who directed [Morocco]", "--model", model_dir, "--json", "-k", "2"])
    assert ok.exit_code == 0, ok.output
    payload = json.loads(ok.stdout)
    assert payload["topic"]["id"] == "Morocco" and len(payload["answers"]) == 2
    assert payload["answers"][0]["paths"] and "MATCH p = " in payload["cypher"]
    text = runner.invoke(app, ["qa", "who directed Morocco", "--model", model_dir])
    assert text.exit_code == 0 and "topic entity: Morocco" in text.stdout and "via Morocco -[directed_by]->" in text.stdout
    unquoted = runner.invoke(app, ["qa", "who", "directed", "Morocco", "--model", model_dir])  # the shell split it
    assert unquoted.exit_code == 0 and unquoted.stdout == text.stdout
    bad = runner.invoke(app, ["qa", "tell me something nice", "--model", model_dir])
    assert bad.exit_code == 1
    assert "no entity of the knowledge graph found" in bad.output and "Traceback" not in bad.output
    missing = runner.invoke(app, ["qa", "who directed Morocco", "--model", str(trained["root"] / "nope")])
    assert missing.exit_code == 2 and "Traceback" not in missing.output


@pytest.mark.parametrize("encoder", [
    {"kind": "plain", "backbone_config": TINY_BERT},
    {"kind": "fusion", "init": "pretrained"},
], ids=["plain-base-encoder", "from-pretrained-fusion-checkpoint"])
def test_fine_tunes_from_the_plain_encoder_and_from_a_pretrained_checkpoint(trained, encoder):
    from kgfm.fusion.model import FusionConfig, KnowledgeFusionModel
    from kgfm.qa.checkpoint import load_qa_model
    from kgfm.qa.encoding import _tokenizer
    from kgfm.hf import minilm_path
    from kgfm.qa.finetune import finetune

    root = trained["root"]
    encoder = dict(encoder, max_length=24)
    if encoder.get("init") == "pretrained":
        torch.manual_seed(1)
        pre = KnowledgeFusionModel(FusionConfig(backbone_config=TINY_BERT, fusion_layers=[0]), trained["index"])
        pre.save_pretrained(root / "pretrained", tokenizer=_tokenizer(str(minilm_path())))
        encoder["checkpoint"] = str(root / "pretrained")
        reference = pre.backbone.embeddings.word_embeddings.weight.detach().clone()
    cfg = trained["cfg"].model_copy(deep=True, update={"run": trained["cfg"].run.model_copy(update={"output_dir": root / f"run-{encoder['kind']}"})})
    cfg.encoder = type(cfg.encoder).model_validate(encoder)
    cfg.train.epochs = 1
    summary = finetune(cfg, trained["graph"], trained["index"], progress=False)
    assert summary["epochs_run"] == 1 and summary["encoder_kind"] == encoder["kind"]
    model, manifest = load_qa_model(cfg.run.output_dir / "model", trained["graph"], trained["index"])
    assert manifest["encoder_kind"] == encoder["kind"]
    if encoder["kind"] == "plain":
        assert not hasattr(model.encoder.backbone, "fusion_layers")
    else:  # started from the checkpoint's weights, then moved by fine-tuning
        weights = model.encoder.backbone.backbone.embeddings.word_embeddings.weight
        assert model.encoder.backbone.config.fusion_layers == [0]
        assert torch.allclose(weights, reference, atol=0.05) and not torch.equal(weights, reference)


def test_eval_cli_reports_hits_with_and_without_fusion_and_the_ceiling(trained, qa_inputs, tmp_path):
    from typer.testing import CliRunner

    from kgfm.cli.main import app

    root = tmp_path / "MetaQA"
    (root / "1-hop" / "vanilla").mkdir(parents=True)
    lines = qa_inputs[1].read_text(encoding="utf-8").splitlines()
    lines.append("who directed [Casablanca]\tMichael Curtiz")  # topic not in the KB: unanswerable
    (root / "1-hop" / "vanilla" / "qa_test.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "eval.json"
    res = CliRunner().invoke(app, ["eval", "--dataset", "metaqa", "--hops", "1", "--split", "test", "--model",
                                   str(trained["root"] / "run" / "model"), "--data-root", str(root), "--out", str(out)])
    assert res.exit_code == 0, res.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["questions"] == 21 and report["ceiling"] == pytest.approx(20 / 21)
    assert report["with_fusion"]["hits@1"] >= 0.85 and "hits@1" in report["without_fusion"]
    assert report["with_fusion"]["hits@1"] <= report["ceiling"]
    paired = report["fusion_vs_off"]
    assert paired["difference"] == pytest.approx(report["with_fusion"]["hits@1"] - report["without_fusion"]["hits@1"])
    assert paired["a_only"] - paired["b_only"] == round(paired["difference"] * 21)
    refused = CliRunner().invoke(app, ["eval", "--hops", "3", "--split", "test", "--model",
                                       str(trained["root"] / "run" / "model"), "--data-root", str(root)])
    assert refused.exit_code == 2 and "withheld on purpose" in refused.output


def test_lora_fine_tuning_trains_adapters_and_keeps_backbone_weights(trained):
    pytest.importorskip("peft")
    from kgfm.qa.checkpoint import load_qa_model
    from kgfm.qa.encoding import build_encoder
    from kgfm.qa.finetune import finetune

    cfg = trained["cfg"].model_copy(deep=True, update={"run": trained["cfg"].run.model_copy(update={"output_dir": trained["root"] / "run-lora"})})
    cfg.encoder = type(cfg.encoder).model_validate(
        dict(cfg.encoder.model_dump(), lora={"enabled": True, "r": 4, "alpha": 8, "target_modules": ["query", "value"]}))
    cfg.train.epochs = 2
    summary = finetune(cfg, trained["graph"], trained["index"], progress=False)
    assert summary["epochs_run"] >= 1
    model, _ = load_qa_model(cfg.run.output_dir / "model", trained["graph"], trained["index"])
    torch.manual_seed(cfg.run.seed)  # finetune() seeds the same way before building the encoder
    fresh = build_encoder(cfg.encoder, trained["index"])
    loaded = dict(model.encoder.backbone.backbone.named_parameters())
    initial = dict(fresh.backbone.backbone.named_parameters())
    adapters = [n for n in loaded if "lora_B" in n]
    assert adapters and set(loaded) == set(initial)
    assert any(not torch.equal(loaded[n], initial[n]) for n in adapters)  # lora_B starts at zero, then trains
    frozen = [n for n in loaded if "lora_" not in n]
    assert frozen and all(torch.equal(loaded[n], initial[n]) for n in frozen)


@pytest.mark.parametrize("kind", ["fusion", "plain"])
def test_train_layers_freezes_embeddings_and_lower_layers_not_fusion_layers(trained, kind):
    from kgfm.qa.encoding import build_encoder, freeze_lower_layers

    cfg = trained["cfg"].encoder.model_copy(update={"kind": kind})
    enc = build_encoder(cfg, trained["index"])
    trainable = freeze_lower_layers(enc, 1)
    names = {n for n, p in enc.named_parameters() if p.requires_grad}
    assert trainable == sum(p.numel() for p in enc.parameters() if p.requires_grad) > 0
    assert not any(".layer.0." in n or "embeddings." in n for n in names)  # 2 layers: layer 0 frozen
    assert any(".layer.1." in n for n in names)
    if kind == "fusion":  # the fusion layer after layer 1 trains
        assert any(n.startswith("backbone.") and not n.startswith("backbone.backbone.") for n in names)


def test_lora_needs_the_fusion_encoder():
    from pydantic import ValidationError

    from kgfm.qa.config import QAEncoderConfig

    with pytest.raises(ValidationError, match="encoder.lora needs kind: fusion"):
        QAEncoderConfig(kind="plain", lora={"enabled": True})


@pytest.mark.parametrize("fusion_at_head_lr", [False, True])
def test_fusion_layers_train_at_head_lr_only_when_asked(trained, fusion_at_head_lr):
    from kgfm.qa.checkpoint import load_qa_model
    from kgfm.qa.finetune import head_parameters
    from kgfm.training.optim import param_groups

    model, _ = load_qa_model(trained["model"], trained["graph"], trained["index"])
    optim = trained["cfg"].optim.model_copy(update={"fusion_at_head_lr": fusion_at_head_lr})
    groups = param_groups(model, optim, head_parameters(optim.fusion_at_head_lr))
    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    fusion = [p for n, p in model.named_parameters() if ".fusion_layers." in n]
    scorer = [p for n, p in model.named_parameters() if n.startswith("scorer.")]
    other = [p for n, p in model.named_parameters() if ".fusion_layers." not in n and not n.startswith("scorer.")]
    assert fusion and scorer and other and optim.head_lr != optim.lr
    assert {lr_of[id(p)] for p in scorer} == {optim.head_lr}
    assert {lr_of[id(p)] for p in other} == {optim.lr}
    assert {lr_of[id(p)] for p in fusion} == {optim.head_lr if fusion_at_head_lr else optim.lr}


def test_log_path_scorer_fine_tunes_saves_and_answers(trained):
    """``scorer.path_score: log`` trains to the same fit as the default, and the checkpoint keeps it."""
    from kgfm.qa.answer import QAEngine
    from kgfm.qa.finetune import finetune

    root = trained["root"]
    cfg = trained["cfg"].model_copy(deep=True, update={"run": trained["cfg"].run.model_copy(update={"output_dir": root / "run-logpath"})})
    cfg.scorer = cfg.scorer.model_copy(update={"path_score": "log"})
    summary = finetune(cfg, trained["graph"], trained["index"], progress=False)
    assert summary["best_valid_hits1"] >= 0.9, summary["history"][-3:]
    manifest = json.loads((root / "run-logpath" / "model" / "manifest.json").read_text())
    assert manifest["scorer_shape"]["path_score"] == "log"
    engine = QAEngine.load(root / "run-logpath" / "model")
    try:
        assert engine.model.scorer.shape.path_score == "log"
        assert engine.answer_one("who directed Jezebel", top_k=1).answers[0].id == "William Wyler"
    finally:
        engine.close()
