"""The tiny offline tokenizer and random model used by rollout tests and the built-in task."""
import torch

from rltrain.models.loading import load_model_and_tokenizer
from rltrain.models.tiny import build_tiny, build_tiny_tokenizer, load_tiny, save_tiny


def test_tokenizer_is_deterministic_and_round_trips_any_text():
    a, b = build_tiny_tokenizer(), build_tiny_tokenizer()
    text = "Step 1: 12 + 7 = 19.\n\nÜnïcode ∑ and \x01 bytes \\boxed{19}"
    assert a(text)["input_ids"] == b(text)["input_ids"]
    assert a.decode(a(text, add_special_tokens=False)["input_ids"]) == text
    assert a.eos_token == "<|im_end|>" and a.pad_token == "<|endoftext|>" and a.eos_token_id != a.pad_token_id


def test_tiny_model_shape_and_save_load(tmp_path):
    model, tok = build_tiny(seed=0)
    cfg = model.config
    assert cfg.model_type == "qwen2" and cfg.num_hidden_layers == 2 and cfg.hidden_size == 64
    assert cfg.head_dim >= 32 and cfg.vocab_size == len(tok)
    save_tiny(model, tok, tmp_path / "m")
    for loaded_model, loaded_tok in (load_tiny(tmp_path / "m"), load_model_and_tokenizer(tmp_path / "m")):
        ids = torch.tensor([tok("1+1=2\n\n", add_special_tokens=False)["input_ids"]])
        with torch.no_grad():
            torch.testing.assert_close(loaded_model(ids).logits, model(ids).logits)
        assert loaded_tok("a\n\nb")["input_ids"] == tok("a\n\nb")["input_ids"]
        assert loaded_tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                              add_generation_prompt=True).endswith("<|im_start|>assistant\n")


def test_seeds_give_different_models():
    a, _ = build_tiny(seed=0)
    b, _ = build_tiny(seed=1)
    assert not torch.equal(a.lm_head.weight, b.lm_head.weight)
