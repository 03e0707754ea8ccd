"""Contract checks for components: the same checks zsk runs on its own, for plugin authors."""

from zsk.testing.contract import TINY_DIMS, check_component, iter_components

__all__ = ["TINY_DIMS", "check_component", "iter_components"]
