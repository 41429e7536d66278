"""Throughput measurements behind `resnetlab bench` (data, train, infer)."""
