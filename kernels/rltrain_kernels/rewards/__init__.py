"""Token rewards (PRM shaping, outcome, KL) with GAE or a critic-free estimator, padded or packed."""
