"""The sizes every network is built with (plugin API: ``zsk.core.components.interfaces.Dims``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dims:
    """Sizes every network is built with: read from the data set and the spec, never typed twice."""

    image_size: int
    num_attributes: int
    num_seen_classes: int
    embedding_dim: int = 256
    noise_dim: int = 128
    channels: int = 3
    #: a feature data set's vector size (0: images); its (B, feature_dim) rows go where images go
    feature_dim: int = 0

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """One sample's shape: (feature_dim,) or (channels, image_size, image_size)."""
        size = self.image_size
        return (self.feature_dim,) if self.feature_dim else (self.channels, size, size)
