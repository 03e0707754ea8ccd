"""Contract checks for components: the same checks zsk runs on its own, for plugin authors."""

from zsk.testing.contract import TINY_DIMS, check_component, iter_components
from zsk.testing.toy_step import ToyStep, check_loss

__all__ = ["TINY_DIMS", "ToyStep", "check_component", "check_loss", "iter_components"]
