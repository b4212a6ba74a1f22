"""Training: a run's data from its config, the objectives, the loop that fits a model, and its checkpoints."""
