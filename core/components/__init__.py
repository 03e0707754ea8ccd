"""The kinds' base classes and the plain types they exchange; the bottom layer of core."""
