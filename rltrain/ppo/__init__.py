"""PPO: experience building, losses, KL control, micro-batching and the iteration loop."""
