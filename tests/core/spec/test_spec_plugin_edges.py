"""Two spec edges a plugin author meets: optimiser defaults that hold key by key, and a lock
file naming a component whose package is gone."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest
import yaml

from tests.core.spec.minimal_spec import MINIMAL, write
from zsk.core.spec.loading import load_spec, load_spec_document
from zsk.registry import UserError


@pytest.mark.parametrize(
    ("given", "generator_lr", "discriminator_lr"),
    [
        ("", 5e-5, 2e-4),
        ("  optimizers:\n    generator: {betas: [0.5, 0.9]}\n", 5e-5, 2e-4),
        ("  optimizers:\n    discriminator: {weight_decay: 0.01}\n", 5e-5, 2e-4),
        ("  optimizers:\n    generator: {lr: 1.0e-3}\n", 1e-3, 2e-4),
    ],
)
def test_each_roles_default_learning_rate_holds_whatever_sibling_keys_are_given(
    tmp_path, given, generator_lr, discriminator_lr
):
    optimizers = load_spec(write(tmp_path, MINIMAL + given)).train.optimizers
    assert (optimizers.generator.lr, optimizers.discriminator.lr) == (
        generator_lr,
        discriminator_lr,
    )
    if "betas" in given:
        assert optimizers.generator.betas == (0.5, 0.9)


def _lock_naming(tmp_path: Path, distribution: str, version: str) -> Path:
    spec = yaml.safe_load(MINIMAL)
    spec["objective"]["generator"] = [{"type": "critter_wgan_gp"}]
    spec["lock"] = {
        "components": {
            "objective.generator.0": {
                "type": "critter_wgan_gp",
                "plugin": "critterlab",
                "distribution": distribution,
                "version": version,
            }
        }
    }
    path = tmp_path / "spec.lock.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_a_lock_naming_an_uninstalled_package_says_what_to_install_first(tmp_path):
    with pytest.raises(UserError) as caught:
        load_spec_document(_lock_naming(tmp_path, "zsk-critterlab", "0.1.0"))
    text = caught.value.render()
    install = text.index(
        "loss 'critter_wgan_gp' came from zsk-critterlab 0.1.0 when this run was built, which "
        "is not installed: install it with `pip install 'zsk-critterlab==0.1.0'`"
    )
    assert install < text.index("Did you mean 'wgan_gp'?")


def test_a_lock_naming_another_installed_version_names_both(tmp_path):
    with pytest.raises(UserError) as caught:
        load_spec_document(_lock_naming(tmp_path, "pyyaml", "0.0.1"))
    installed = metadata.version("pyyaml")
    assert (
        f"came from pyyaml 0.0.1 when this run was built, and pyyaml {installed} is installed "
        "now, which does not provide it: install it with `pip install 'pyyaml==0.0.1'`"
    ) in caught.value.render()


def test_a_plain_spec_keeps_the_did_you_mean(tmp_path):
    text = MINIMAL.replace("generator: [{type: lsgan}]", "generator: [{type: lsgn}]")
    with pytest.raises(UserError) as caught:
        load_spec(write(tmp_path, text))
    assert "unknown loss 'lsgn'. Did you mean 'lsgan'?" in caught.value.render()
    assert "came from" not in caught.value.render()
