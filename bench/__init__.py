"""Benchmarks of plansite: scripts run as `python -m bench.<name>`, see bench/README.md."""
