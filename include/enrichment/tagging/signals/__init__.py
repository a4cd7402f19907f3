"""The tagging signals: pixel colour, product text, CLIP zero-shot."""
