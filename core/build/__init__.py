"""Composing a spec into networks and objectives, checked by a dry pass."""
