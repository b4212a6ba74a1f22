"""What a trained model says about rows: predictions, anomaly scores, test metrics, the class prior in latent
space, and generation."""
