"""In-block scans (state maps, discounted sums, suffix minima) the step and reward backends build on."""
