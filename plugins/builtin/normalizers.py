"""Built-in normalisers: spectral normalisation of weights, and feature normalisation layers."""

from __future__ import annotations

from pydantic import Field
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from zsk.core.components.interfaces import Normalizer
from zsk.registry import Component, UserError, hookimpl


class Spectral(Normalizer):
    """Spectral normalisation of a layer's weight (Miyato et al. 2018): largest singular value 1.

    The weight is divided by its largest singular value, estimated by power iteration on every
    training-mode forward pass. Transposed convolutions are normalised along their output
    dimension, as PyTorch's ``spectral_norm`` does by itself.
    """

    name = "spectral"
    roles = frozenset({"weight"})

    class Params(Component.Params):
        n_power_iterations: int = Field(
            1, ge=1, description="power iterations per training step to estimate σ_max"
        )
        eps: float = Field(1e-12, gt=0, description="added to norms when normalising vectors")

    def wrap(self, layer: nn.Module) -> nn.Module:
        return spectral_norm(
            layer, n_power_iterations=self.params.n_power_iterations, eps=self.params.eps
        )


class NoNorm(Normalizer):
    """No normalisation: weights as they are, features as they are."""

    name = "none"
    roles = frozenset({"weight", "feature"})

    class Params(Component.Params):
        pass

    def wrap(self, layer: nn.Module) -> nn.Module:
        return layer

    def feature(self, num_features: int) -> nn.Module:
        return nn.Identity()


class BatchNorm(Normalizer):
    """Batch normalisation of feature maps (statistics over the batch and positions)."""

    name = "batch"
    roles = frozenset({"feature"})

    class Params(Component.Params):
        momentum: float = Field(0.1, gt=0, le=1, description="running statistics' momentum")
        affine: bool = Field(True, description="learn a per-channel scale and shift")

    def feature(self, num_features: int) -> nn.Module:
        return nn.BatchNorm2d(
            num_features, momentum=self.params.momentum, affine=self.params.affine
        )


class InstanceNorm(Normalizer):
    """Instance normalisation of feature maps (statistics per image and channel)."""

    name = "instance"
    roles = frozenset({"feature"})

    class Params(Component.Params):
        affine: bool = Field(False, description="learn a per-channel scale and shift")

    def feature(self, num_features: int) -> nn.Module:
        return nn.InstanceNorm2d(num_features, affine=self.params.affine)


class GroupNorm(Normalizer):
    """Group normalisation of feature maps (statistics per image over groups of channels)."""

    name = "group"
    roles = frozenset({"feature"})

    class Params(Component.Params):
        num_groups: int = Field(8, ge=1, description="channel groups; must divide every width")

    def feature(self, num_features: int) -> nn.Module:
        groups = self.params.num_groups
        if num_features % groups:
            raise UserError(
                f"normalizer 'group': {num_features} channels cannot be split into "
                f"num_groups={groups} equal groups",
                hint="choose num_groups dividing every block's channel count",
            )
        return nn.GroupNorm(groups, num_features)


class LayerNorm(Normalizer):
    """Layer normalisation of feature maps (statistics per image over channels and positions).

    Built as a one-group ``GroupNorm``, which normalises exactly like ``LayerNorm`` over
    (C, H, W) but keeps a per-channel scale and shift, so it needs no spatial size up front.
    """

    name = "layer"
    roles = frozenset({"feature"})

    class Params(Component.Params):
        pass

    def feature(self, num_features: int) -> nn.Module:
        return nn.GroupNorm(1, num_features)


def cancels_channel_bias(normalizer: Normalizer) -> bool:
    """Whether ``normalizer``'s feature layer subtracts each channel's own mean (batch and
    instance norm), which cancels any per-channel bias added before it."""
    return isinstance(normalizer, BatchNorm | InstanceNorm)


@hookimpl
def zsk_register_components(register):
    for cls in (Spectral, NoNorm, BatchNorm, InstanceNorm, GroupNorm, LayerNorm):
        register(cls)
