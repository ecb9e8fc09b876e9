"""Training HRM-ACT-v1 with Accelerate: configuration, optimizers, EMA, checkpoints and the loop."""
