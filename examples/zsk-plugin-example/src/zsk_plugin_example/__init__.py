"""An example zsk plugin: a loss, a normaliser, two real/fake heads, a metric and a data format,
registered through the `zsk` entry point.

zsk reads ``zsk_plugin_api`` before registering anything: if the running zsk's plugin API
version is outside this range, the plugin is reported by ``zsk plugins`` and not loaded. Every
name from zsk comes from ``zsk.api``, plugin API 3's one import surface.
"""

from collections.abc import Callable

from zsk.api import Component, hookimpl

from zsk_plugin_example.datasets import ClassTable
from zsk_plugin_example.heads import AttributeProjection, LinearCritic
from zsk_plugin_example.losses import RelativisticAverageLSGAN
from zsk_plugin_example.metrics import ColourGap
from zsk_plugin_example.normalizers import PixelNorm

zsk_plugin_api = ">=3.0,<4"

COMPONENTS = (
    RelativisticAverageLSGAN,
    PixelNorm,
    AttributeProjection,
    LinearCritic,
    ColourGap,
    ClassTable,
)

__all__ = [cls.__name__ for cls in COMPONENTS] + ["zsk_plugin_api"]


@hookimpl
def zsk_register_components(register: Callable[[type[Component]], None]) -> None:
    for cls in COMPONENTS:
        register(cls)
