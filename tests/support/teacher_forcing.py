"""The log-probs a model gives a response by teacher forcing: what an engine's sampler log-probs must equal."""
import torch


def teacher_forced_logprobs(model, prompt: list[int], response: list[int], temperature: float | None) -> torch.Tensor:
    """[len(response)] float32: log_softmax(logits / temperature) of each response token, given the prompt."""
    ids = torch.tensor([prompt + response])
    with torch.no_grad():
        logits = model(ids).logits[0].float()
    logp = torch.log_softmax(logits / (temperature or 1.0), dim=-1)[len(prompt) - 1:-1]
    return logp.gather(1, torch.tensor(response)[:, None])[:, 0]
