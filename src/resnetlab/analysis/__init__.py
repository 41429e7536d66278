"""Measurements on networks and runs: layer responses, gradients, figures."""
