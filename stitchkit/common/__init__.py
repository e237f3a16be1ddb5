"""Plumbing every layer shares: one-line user errors, atomic file writes, the strict
types of params.yaml's schema, duplicate-refusing YAML, and the compute settings (device,
torch threads, precision).

Imports nothing else from stitchkit.
"""
