"""A rollout engine that answers prompts from a script (evaluation, reranking and grading tests)."""
import torch

from rltrain.rollout import RolloutEngine, RolloutOutput


class ScriptedEngine(RolloutEngine):
    """Answers each prompt with scripted responses: greedy gets the first, samples the next n. A
    response is a text (it stops) or a (text, finish_reason) pair ("length": cut off, no stop token)."""

    def __init__(self, tokenizer, script: dict[str, list]):
        self.tok, self.script = tokenizer, script

    def generate(self, prompts, params):
        out = []
        for prompt in prompts:
            text = self.tok.decode(prompt)
            entries = next(v for q, v in self.script.items() if q in text)
            chosen = entries[:1] * params.n if params.greedy else entries[1:1 + params.n]
            out.append([self._output(*((e, "stop") if isinstance(e, str) else e)) for e in chosen])
        return out

    def _output(self, text, reason):
        stop = [self.tok.eos_token_id] if reason == "stop" else []
        ids = self.tok(text, add_special_tokens=False)["input_ids"] + stop
        return RolloutOutput(ids, torch.zeros(len(ids)), reason)

    def update_weights(self, named_tensors):
        pass
