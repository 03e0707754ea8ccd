"""Contract checks for components: the same checks zsk runs on its own, for plugin authors
(who import them from :mod:`zsk.api`)."""

from zsk.testing.contract import TINY_DIMS, check_component, iter_components
from zsk.testing.errors import ContractError
from zsk.testing.metric_contract import check_metric, tiny_inputs
from zsk.testing.toy_step import TOY_DIMS, ToyStep, check_loss

__all__ = [
    "TINY_DIMS",
    "TOY_DIMS",
    "ContractError",
    "ToyStep",
    "check_component",
    "check_loss",
    "check_metric",
    "iter_components",
    "tiny_inputs",
]
