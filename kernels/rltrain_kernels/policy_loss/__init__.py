"""The fused PPO policy loss, from logits or from hidden states and the lm_head weight."""
