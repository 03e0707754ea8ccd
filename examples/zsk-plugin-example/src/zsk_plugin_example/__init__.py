"""An example zsk plugin: a loss, a normaliser, two real/fake heads, a metric and a data format,
registered through the `zsk` entry point.

zsk reads ``zsk_plugin_api`` before registering anything: if the running zsk's plugin API
version is outside this range, the plugin is reported by ``zsk plugins`` and not loaded. The
heads' ``condition`` and the metric kind arrived with plugin API 1.1; 2.0 renamed the data set
readers' module, which the data format uses.
"""

from zsk.api import hookimpl

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
def zsk_register_components(register):
    for cls in COMPONENTS:
        register(cls)
