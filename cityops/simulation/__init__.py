"""A simulated Pudong day through the real engine (docs/simulation.md)."""
