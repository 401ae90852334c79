"""Learning tests: tiny reward models trained on the synthetic arithmetic task separate correct from
incorrect steps (PRM, Math-Shepherd auto labels) and solutions (ORM) on held-out problems."""
import time

import pytest
import torch
from rm_synthetic import outcome_examples, step_examples, word_tokenizer

from rltrain.grading import Grader, GraderConfig
from rltrain.models.tiny import TinyModelConfig, build_tiny_model
from rltrain.rewards import RenderConfig, StepTagLM, StepTagTokens, ValueHeadModel
from rltrain.rewards.batched import read_logits
from rltrain.reward_training.training import (RMTrainConfig, encode_outcome_examples, encode_step_examples, roc_auc,
                                      train_token_scorer)

pytestmark = pytest.mark.slow  # starts processes or trains models

# 3 layers x 4 heads: the first layer must gather "a op b = c" (4 tokens) into one position.
BACKBONE = TinyModelConfig(hidden_size=64, intermediate_size=256, num_hidden_layers=3, num_attention_heads=4,
                           num_key_value_heads=4)
PRM_TRAIN = RMTrainConfig(lr=2e-3, epochs=8, batch_size=32)
ORM_TRAIN = RMTrainConfig(lr=2e-3, epochs=14, batch_size=32)  # one label per solution: more epochs
# The limit is on this process's CPU time (torch runs single-threaded here): wall time on a shared
# machine also counts other people's jobs.
CPU_LIMIT_S = 120


def _train_and_score(encode, tok, config, head="value"):
    start, cpu = time.perf_counter(), time.process_time()
    train, held_out = encode(3000, 1), encode(400, 2)
    lm = build_tiny_model(len(tok), BACKBONE, seed=0)
    model = ValueHeadModel(lm.model) if head == "value" else StepTagLM(lm, StepTagTokens.resolve(tok))
    losses = train_token_scorer(model, train, config, pad_id=tok.pad_token_id)
    scores = read_logits(model, [r.row for r in held_out], pad_id=tok.pad_token_id)
    auc = roc_auc([float(s) for row in scores for s in row], [y for r in held_out for y in r.labels])
    return auc, time.process_time() - cpu, time.perf_counter() - start, losses


@pytest.mark.parametrize("head", ["value", "step-tag"])
def test_tiny_prm_from_auto_labels_separates_correct_and_incorrect_steps(head):
    torch.manual_seed(0)
    tok = word_tokenizer()
    grader = Grader(GraderConfig(use_math_verify=False))
    tag = StepTagTokens.resolve(tok).tag if head == "step-tag" else None
    render = RenderConfig.math_shepherd() if head == "step-tag" else RenderConfig()
    auc, seconds, wall, losses = _train_and_score(
        lambda n, seed: encode_step_examples(tok, step_examples(n, seed, grader), render, tag), tok, PRM_TRAIN, head)
    print(f"PRM ({head}) held-out step ROC-AUC {auc:.4f} in {seconds:.1f} s CPU, {wall:.1f} s wall "
          f"(final loss {losses[-1]:.3f})")
    assert auc >= 0.9
    assert seconds < CPU_LIMIT_S


def test_tiny_orm_separates_correct_and_incorrect_solutions():
    torch.manual_seed(0)
    tok = word_tokenizer()
    grader = Grader(GraderConfig(use_math_verify=False))
    auc, seconds, wall, losses = _train_and_score(
        lambda n, seed: encode_outcome_examples(tok, outcome_examples(n, seed, grader)), tok, ORM_TRAIN)
    print(f"ORM held-out solution ROC-AUC {auc:.4f} in {seconds:.1f} s CPU, {wall:.1f} s wall "
          f"(final loss {losses[-1]:.3f})")
    assert auc >= 0.9
    assert seconds < CPU_LIMIT_S


@pytest.mark.parametrize("scores, labels, expected", [
    ([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], 0.75), ([1, 1, 1], [0, 1, 1], 0.5), ([0.2, 0.9], [1, 0], 0.0)])
def test_roc_auc(scores, labels, expected):
    assert roc_auc(scores, labels) == pytest.approx(expected)
