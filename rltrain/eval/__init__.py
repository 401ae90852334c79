"""Evaluation: greedy / sampling accuracy and pass@k on GSM8K, MATH and MATH500 (`python -m rltrain.eval`)."""
