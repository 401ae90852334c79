"""rltrain: PPO for LLM math reasoning; see ../shared/DESIGN.md for the layout and data flow."""
