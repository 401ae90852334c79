"""The built-in task: generated arithmetic, a tiny tokenizer and model, a supervised warm-up.

Everything is built at start from code (no download, nothing cached outside the run dir):
- `build_task_tokenizer`: the tiny byte-level BPE trained on arithmetic questions and
  solutions, so numbers, operators and "\\n\\n" tokenize well;
- `build_task_model`: a tiny Qwen2 causal LM sized to that vocabulary;
- `supervised_warmup`: a few AdamW steps of teacher forcing on reference solutions, stopped
  early so that the policy stays imperfect (RL has something to improve);
- `task_problems`: the problems as `MathProblem` records for the trainer's data loop;
- `builtin_policy`: the trainer's initial policy, built and warmed up at first start and kept in
  `<run_dir>/init_model`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import torch

from rltrain.config.schema import Config
from rltrain.data.prompts import PromptConfig, format_prompt
from rltrain.data.records import MathProblem
from rltrain.models.build import InitialPolicy
from rltrain.config.tiny_model import TinyModelConfig
from rltrain.models.tiny import build_tiny_model, build_tiny_tokenizer, load_tiny, save_tiny
from rltrain.config.arithmetic import ArithmeticConfig
from rltrain.config.warmup import WarmupConfig
from rltrain.tasks.arithmetic import ArithmeticProblem, make_problems

# A short instruction keeps prompts (and so every forward pass) small on a CPU.
BUILTIN_PROMPT = PromptConfig(instruction="Solve step by step.")


def task_problems(count: int, seed: int, config: ArithmeticConfig) -> list[MathProblem]:
    """`count` generated problems as records (answer = the final value, solution = reference)."""
    return [MathProblem("arithmetic", f"arith:{seed}:{i}", p.question, str(p.answer), p.solution)
            for i, p in enumerate(make_problems(count, seed, config))]


def build_task_tokenizer(config: ArithmeticConfig, vocab_size: int, seed: int = 12345):
    """The tiny BPE trained on generated questions, reference solutions and chat-formatted text."""
    problems = make_problems(400, seed, config)
    texts = [p.question for p in problems] + [p.solution for p in problems]
    texts += [BUILTIN_PROMPT.instruction, "<|im_start|>user\n", "<|im_start|>assistant\n"]
    return build_tiny_tokenizer(texts, vocab_size)


def build_task_model(tokenizer, config: TinyModelConfig, seed: int):
    return build_tiny_model(len(tokenizer), config, seed=seed, eos_token_id=tokenizer.eos_token_id,
                            pad_token_id=tokenizer.pad_token_id)


def sft_batch(tokenizer, problems: Sequence[ArithmeticProblem]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(input_ids [B, T], attention_mask [B, T], labels [B, T] with -100 on prompt and padding)."""
    rows, labels = [], []
    for p in problems:
        prompt = tokenizer(format_prompt(tokenizer, p.question, BUILTIN_PROMPT), add_special_tokens=False)["input_ids"]
        answer = tokenizer(p.solution, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        rows.append(prompt + answer)
        labels.append([-100] * len(prompt) + answer)
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    lab = torch.full((len(rows), width), -100, dtype=torch.long)
    att = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (r, l) in enumerate(zip(rows, labels)):
        ids[i, :len(r)] = torch.tensor(r)
        lab[i, :len(l)] = torch.tensor(l)
        att[i, :len(r)] = 1
    return ids, att, lab


def supervised_warmup(model, tokenizer, task: ArithmeticConfig, config: WarmupConfig, *, seed: int,
                      rewrite: Callable[[ArithmeticProblem], ArithmeticProblem] | None = None) -> list[float]:
    """Teacher-force reference solutions; returns the loss per step. Deterministic given seeds.
    seed: of the problem stream (the trainer uses run.seed + 7, a stream disjoint from the RL
    prompts); `rewrite` (optional) maps each generated problem to the one trained on (e.g. a
    solution variant); the problem stream itself does not change."""
    import random

    rng = random.Random(seed)
    from rltrain.tasks.arithmetic import make_problem

    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 10))
    model.train()
    losses = []
    for _ in range(config.steps):
        problems = [make_problem(rng, task) for _ in range(config.batch_size)]
        ids, att, lab = sft_batch(tokenizer, [rewrite(p) for p in problems] if rewrite else problems)
        loss = model(input_ids=ids, attention_mask=att, labels=lab).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses


def builtin_policy(cfg: Config, run_dir: Path, is_main: bool) -> InitialPolicy:
    """The built-in policy: from <run_dir>/init_model if present, else built, warmed up with supervised
    steps and saved there by the main rank (so a resumed run and the reference model see the same
    initial weights)."""
    init_dir = run_dir / "init_model"
    exists = (init_dir / "config.json").is_file()
    if torch.distributed.is_initialized():
        torch.distributed.barrier()  # every rank decides before rank 0 may write init_model
    if exists:
        lm, tok = load_tiny(init_dir)
        return InitialPolicy(lm, tok, [])
    task = cfg.data.arithmetic
    tok = build_task_tokenizer(task, cfg.model.tiny_vocab_size)
    lm = build_task_model(tok, cfg.model.tiny, cfg.run.seed)
    losses = supervised_warmup(lm, tok, task, cfg.warmup, seed=cfg.run.seed + 7) if cfg.warmup.steps else []
    if is_main:
        tmp = run_dir / "init_model.tmp"
        save_tiny(lm, tok, tmp)
        tmp.rename(init_dir)
    if torch.distributed.is_initialized():
        torch.distributed.barrier()  # init_model exists for every rank (a vLLM engine loads it)
    return InitialPolicy(lm, tok, losses)
