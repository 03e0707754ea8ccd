"""zsk's plugin API: everything a plugin package may import, in one module.

A plugin imports from ``zsk.api`` and from nowhere else in zsk; the rest of zsk is private and
may move between releases. What is here is versioned as :data:`PLUGIN_API_VERSION`: a name
leaves or changes its meaning only with a new major version, which a plugin declares it supports
with a module attribute (``zsk_plugin_api = ">=3.0,<4"``). docs/plugin-guide.md describes each
kind and the contract; ``tests/api`` fails when a name a plugin needs is reachable only
elsewhere.

- Hooks and errors: :data:`hookimpl`, :class:`UserError`, :data:`PLUGIN_API_VERSION`.
- The kinds' base classes (subclass one, set ``name``, ``Params`` and a docstring):
  :class:`Generator`, :class:`Trunk`, :class:`Head` (:class:`EmbeddingHead`),
  :class:`SemanticEncoder`, :class:`Loss`, :class:`Normalizer`, :class:`Attention`,
  :class:`Dataset`, :class:`Metric`; :class:`Component` is their common base.
- What they exchange: :class:`Dims`, :class:`Condition`, :class:`StepContext` and its selectors,
  :class:`ZslData` and :class:`Sample`, :class:`MetricInputs` and :class:`LabelledImages`.
- References to other components in ``Params`` (one per kind, built with keyword-only inputs):
  :class:`NormalizerRef`, :class:`AttentionRef`, ... :class:`MetricRef`.
- A data set reader's helpers: :func:`require_folder`, :func:`class_images`, :func:`assemble`.
- The contract for a plugin's tests: :func:`check_component` (every kind), :func:`check_loss`,
  :func:`check_metric`, :class:`ToyStep`, :func:`tiny_inputs`, :func:`iter_components`, the
  sizes :data:`TINY_DIMS` and :data:`TOY_DIMS`, and :class:`ContractError`, which every check
  raises (under ``python -O`` too).
- The registry as a plugin's own tests see it: :func:`get_registry` (a
  :class:`ComponentRegistry` of :class:`ComponentEntry`), :func:`plugin_failures` (each a
  :class:`PluginFailure`), :func:`reload_plugins`.
"""

from zsk.core.components.dims import Dims
from zsk.core.components.interfaces import (
    CLASS_TABLES,
    CLASSES,
    CONDITION_PARTS,
    ROLES,
    Attention,
    Classes,
    ClassTable,
    Condition,
    Dataset,
    EmbeddingHead,
    Generator,
    Head,
    Loss,
    Metric,
    MetricValue,
    Normalizer,
    Phase,
    SemanticEncoder,
    Source,
    SourceImages,
    StepContext,
    Trunk,
    second_order,
    second_order_needed,
)
from zsk.core.components.metric_inputs import LabelledImages, MetricInputs
from zsk.core.components.zsl_data import FeatureSample, Holdout, Sample, ZslData
from zsk.core.data.readers import class_images, require_folder
from zsk.core.data.split import assemble
from zsk.core.spec.refs import (
    AttentionRef,
    ComponentRef,
    DatasetRef,
    GeneratorRef,
    HeadRef,
    LossRef,
    MetricRef,
    NormalizerRef,
    SemanticEncoderRef,
    TrunkRef,
)
from zsk.registry import (
    PLUGIN_API_VERSION,
    Component,
    ComponentEntry,
    ComponentRegistry,
    PluginFailure,
    UserError,
    get_registry,
    hookimpl,
)
from zsk.registry.manager import failures as plugin_failures
from zsk.registry.manager import reset as reload_plugins
from zsk.testing import (
    TINY_DIMS,
    TOY_DIMS,
    ContractError,
    ToyStep,
    check_component,
    check_loss,
    check_metric,
    iter_components,
    tiny_inputs,
)

__all__ = [
    "CLASSES",
    "CLASS_TABLES",
    "CONDITION_PARTS",
    "PLUGIN_API_VERSION",
    "ROLES",
    "TINY_DIMS",
    "TOY_DIMS",
    "Attention",
    "AttentionRef",
    "ClassTable",
    "Classes",
    "Component",
    "ComponentEntry",
    "ComponentRef",
    "ComponentRegistry",
    "Condition",
    "ContractError",
    "Dataset",
    "DatasetRef",
    "Dims",
    "EmbeddingHead",
    "FeatureSample",
    "Generator",
    "GeneratorRef",
    "Head",
    "HeadRef",
    "Holdout",
    "LabelledImages",
    "Loss",
    "LossRef",
    "Metric",
    "MetricInputs",
    "MetricRef",
    "MetricValue",
    "Normalizer",
    "NormalizerRef",
    "Phase",
    "PluginFailure",
    "Sample",
    "SemanticEncoder",
    "SemanticEncoderRef",
    "Source",
    "SourceImages",
    "StepContext",
    "ToyStep",
    "Trunk",
    "TrunkRef",
    "UserError",
    "ZslData",
    "assemble",
    "check_component",
    "check_loss",
    "check_metric",
    "class_images",
    "get_registry",
    "hookimpl",
    "iter_components",
    "plugin_failures",
    "reload_plugins",
    "require_folder",
    "second_order",
    "second_order_needed",
    "tiny_inputs",
]
