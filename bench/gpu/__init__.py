"""Steps of `bench/gpu_check.py`: ceilings, kernel measurements, the trainer run, assets, report."""
