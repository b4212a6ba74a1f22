"""The write-up's experiments: the grids of cells (`grid`), one cell fit -> evaluate -> file (`cell`), and
RESULTS.md built from the cells (`report`, one function per section)."""
