"""An example zsk plugin: one loss and one normaliser, registered through the `zsk` entry point.

zsk reads ``zsk_plugin_api`` before registering anything: if the running zsk's plugin API
version is outside this range, the plugin is reported by ``zsk plugins`` and not loaded.
"""

from zsk.registry import hookimpl

from zsk_plugin_example.losses import RelativisticAverageLSGAN
from zsk_plugin_example.normalizers import PixelNorm

zsk_plugin_api = ">=1.0,<2"

__all__ = ["PixelNorm", "RelativisticAverageLSGAN", "zsk_plugin_api"]


@hookimpl
def zsk_register_components(register):
    register(RelativisticAverageLSGAN)
    register(PixelNorm)
