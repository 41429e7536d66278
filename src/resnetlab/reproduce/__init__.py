"""Experiments: one module per claim of the paper (degradation, shortcuts, depth, responses),
each a plan of training runs (cached by runner) and an analysis into report.md + figures."""
