"""`python -m ssvae_edge` is the `ssvae-edge` CLI (useful where the entry point is not on PATH)."""

from ssvae_edge.cli import main

main()
