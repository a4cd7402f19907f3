"""Embedders (text and image) behind one interface, their cache and their evaluation."""
