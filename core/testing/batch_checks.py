"""Contract checks over the batch: one sample's output depends on that sample's inputs alone,
a batch of one gives finite values, a generator reads its noise and its attributes, and a
conditional head reads its condition.

Each takes a network, a function drawing its inputs for a batch size and seed (a tuple of
tensors, batch first), and a function running the network on such inputs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from zsk.testing.errors import ContractError

Inputs = tuple[torch.Tensor, ...]
Draw = Callable[[int, int], Inputs]
Run = Callable[[nn.Module, Inputs], tuple[torch.Tensor, ...]]


def check_batch_of_one(label: str, module: nn.Module, draw: Draw, run: Run) -> None:
    """Forward and backward at batch size 1 (training mode) stay finite."""
    module.train()
    module.zero_grad(set_to_none=True)
    outputs = run(module, draw(1, 5))
    for index, out in enumerate(outputs):
        if not torch.isfinite(out).all():
            raise ContractError(
                f"{label}: output {index} is not finite at batch size 1 (a statistic over the "
                "batch, such as a standard deviation, is undefined for one sample)"
            )
    trained = [out.float().square().mean() for out in outputs if out.requires_grad]
    if trained:
        torch.stack(trained).sum().backward()
    bad = [
        n
        for n, p in module.named_parameters()
        if p.grad is not None and not p.grad.isfinite().all()
    ]
    if bad:
        raise ContractError(f"{label}: non-finite gradients at batch size 1 in {', '.join(bad)}")
    module.zero_grad(set_to_none=True)


def check_samples_independent(label: str, module: nn.Module, draw: Draw, run: Run) -> None:
    """In evaluation mode, changing sample 0's inputs leaves every other sample's outputs alone."""
    module.eval()
    batch = 3
    inputs, other = draw(batch, 6), draw(batch, 7)
    changed = tuple(
        torch.cat([o[:1], x[1:]]) if x.dim() else x for x, o in zip(inputs, other, strict=True)
    )
    with torch.no_grad():
        torch.manual_seed(8)
        before = run(module, inputs)
        torch.manual_seed(8)
        after = run(module, changed)
    for index, (a, b) in enumerate(zip(before, after, strict=True)):
        if a.dim() == 0 or a.shape[0] != batch:
            continue  # a batch-level value (e.g. a head's own loss) may depend on every sample
        if not torch.allclose(a[1:], b[1:], atol=1e-5):
            raise ContractError(
                f"{label}: changing sample 0's input changes output {index} of the other samples: "
                "the component mixes samples across the batch (in evaluation mode, where no batch "
                "statistic should be used)"
            )


def check_reads_input(
    label: str, module: nn.Module, draw: Draw, run: Run, position: int, what: str
) -> None:
    """The first output changes when input ``position`` (e.g. the noise) is drawn anew."""
    module.eval()
    inputs = draw(2, 9)
    other = list(inputs)
    other[position] = draw(2, 10)[position]
    with torch.no_grad():
        torch.manual_seed(11)
        before = run(module, inputs)[0]
        torch.manual_seed(11)
        after = run(module, tuple(other))[0]
    if torch.allclose(before, after, atol=1e-6):
        raise ContractError(
            f"{label}: the output does not change when the {what} change: it ignores its {what}"
        )


def check_reads_condition(label: str, head: nn.Module, draw: Draw, run: Run) -> None:
    """A conditional head's outputs (its score or its own loss term) change when the judged
    images' condition (inputs 1 onwards: attributes, labels, semantic) is drawn anew with the
    same features: a head that ignores its condition is an unconditional head."""
    head.eval()
    inputs = draw(4, 12)
    redrawn = draw(4, 13)
    told_otherwise = (inputs[0], *redrawn[1:])
    with torch.no_grad():
        torch.manual_seed(14)
        before = run(head, inputs)
        torch.manual_seed(14)
        after = run(head, told_otherwise)
    if all(torch.allclose(a, b, atol=1e-6) for a, b in zip(before, after, strict=True)):
        raise ContractError(
            f"{label}: neither its output nor its own loss term changes when the condition "
            "(the judged images' classes) changes: it ignores its condition; read it in "
            "forward or auxiliary_loss, or declare no `condition`"
        )


def check_pools_positions(label: str, head: nn.Module, draw: Draw, run: Run) -> None:
    """A head that declares ``pools_positions`` judges the features' mean over positions,
    (B, C, 1, 1) — what the step hands it — as it judges the features themselves."""
    if not head.pools_positions():
        return
    head.eval()
    inputs = draw(4, 15)
    pooled = (inputs[0].mean(dim=(2, 3), keepdim=True), *inputs[1:])
    with torch.no_grad():
        torch.manual_seed(16)
        whole = run(head, inputs)[0]
        torch.manual_seed(16)
        mean = run(head, pooled)[0]
    if whole.shape != mean.shape or not torch.allclose(whole, mean, atol=1e-5):
        raise ContractError(
            f"{label}: declares pools_positions() but judges the features' mean over positions "
            "differently from the features; return False there"
        )
