import pytest
import torch

from zsk.core.components.interfaces import second_order
from zsk.plugins.builtin.attention import SelfAttention


def _attention(channels: int, gamma: float | None = None, **params) -> SelfAttention:
    """Self-attention without weight normalisation; ``gamma`` sets its residual weight."""
    params.setdefault("weight_norm", {"type": "none"})
    module = SelfAttention(SelfAttention.Params(**params), channels=channels)
    if gamma is not None:
        with torch.no_grad():
            module.gamma.fill_(gamma)
    return module


def _reference(module: SelfAttention, x: torch.Tensor) -> torch.Tensor:
    """SAGAN as the paper writes it: β_ij = softmax_i(f_i · g_j), o_j = Σ_i β_ij h_i."""
    b, c, height, width = x.shape
    flat = x.reshape(b, c, height * width)

    def project(conv):
        return torch.einsum("oc,bcn->bon", conv.weight[:, :, 0, 0], flat) + conv.bias[:, None]

    f, g, h = project(module.f), project(module.g), project(module.h)
    scores = torch.einsum("bki,bkj->bij", f, g)
    beta = torch.softmax(scores, dim=1)  # normalised over the attended positions i
    out = torch.einsum("bci,bij->bcj", h, beta)
    return (module.gamma * out + flat).reshape(b, c, height, width)


def test_sagan_matches_the_einsum_formula():
    torch.manual_seed(0)
    module = _attention(16, gamma=0.7)
    x = torch.randn(2, 16, 5, 3)
    torch.testing.assert_close(module(x), _reference(module, x), atol=1e-5, rtol=1e-5)


def test_sagan_starts_as_identity_and_acts_once_gamma_moves():
    torch.manual_seed(0)
    module = _attention(16)
    x = torch.randn(2, 16, 4, 4)
    assert module.gamma.item() == 0
    assert torch.equal(module(x), x)
    with torch.no_grad():
        module.gamma.fill_(0.5)
    assert (module(x) - x).abs().max() > 1e-2


def test_sagan_gamma_learns_from_zero():
    torch.manual_seed(0)
    module = _attention(8)
    module(torch.randn(2, 8, 4, 4)).square().sum().backward()
    assert module.gamma.grad.abs().item() > 0


@pytest.mark.parametrize("channels, reduction, inner", [(64, 8, 8), (4, 8, 1), (16, 2, 8)])
def test_sagan_query_and_key_widths(channels, reduction, inner):
    module = _attention(channels, reduction=reduction)
    assert module.f.out_channels == module.g.out_channels == inner
    assert module.h.out_channels == channels


def test_sagan_spectral_normalises_its_convs_by_default():
    module = SelfAttention(SelfAttention.Params(), channels=16)
    for conv in (module.f, module.g, module.h):
        assert hasattr(conv, "parametrizations") and "weight" in conv.parametrizations


def _input_gradient_penalty(module: SelfAttention, x: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(module(x).square().sum(), x, create_graph=True)
    return gradient.square().sum()


def test_sagan_second_order_path_matches_the_formula_and_differentiates_twice():
    torch.manual_seed(0)
    module = _attention(16, gamma=0.7)
    x = torch.randn(2, 16, 4, 4)
    with second_order():
        torch.testing.assert_close(module(x), _reference(module, x), atol=1e-5, rtol=1e-5)
        _input_gradient_penalty(module, x).backward()
    assert all(conv.weight.grad.abs().sum() > 0 for conv in (module.f, module.g, module.h))


def test_the_fused_cpu_kernel_has_no_double_backward_which_is_why_penalties_avoid_it():
    torch.manual_seed(0)
    module = _attention(16, gamma=0.7)
    with pytest.raises(RuntimeError, match="not implemented"):
        _input_gradient_penalty(module, torch.randn(2, 16, 4, 4)).backward()
