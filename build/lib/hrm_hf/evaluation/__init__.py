"""Evaluation, inference and sharing for HRM-ACT-v1: scoring, adaptive halting, puzzle helpers, pictures, model cards."""
