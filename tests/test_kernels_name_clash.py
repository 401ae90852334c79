"""Our top-level `kernels` must not pass for Hugging Face's `kernels` package."""
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_transformers_does_not_mistake_our_kernels_package():
    script = textwrap.dedent("""
        import kernels, torch
        from transformers import Qwen2Config, Qwen2ForCausalLM
        from transformers.utils.import_utils import is_kernels_available
        assert hasattr(kernels, "fused_reward_gae"), kernels.__file__
        assert is_kernels_available() is False
        cfg = Qwen2Config(vocab_size=64, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                          num_attention_heads=2, num_key_value_heads=1)
        model = Qwen2ForCausalLM(cfg).eval()
        with torch.no_grad():
            logits = model(torch.randint(0, 64, (2, 7))).logits
        assert logits.shape == (2, 7, 64) and torch.isfinite(logits).all()
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
