"""The smallest complete spec the spec tests start from, and how they write one."""

from __future__ import annotations

from pathlib import Path

#: Every section a spec needs, each at its smallest; tests edit its text (``replace``) or append
#: to its last section, ``train``.
MINIMAL = """\
data: {type: awa2, params: {root: data/shapes}}
model:
  image_size: 32
  generator: {type: encoder_decoder}
  trunk:
    type: sn_conv
    params:
      channels: [8, 16]
  heads:
    real_fake: {type: real_fake}
    embedding: {type: embedding}
  semantic_encoder: {type: mlp}
objective:
  discriminator: [{type: lsgan}, {type: cosine_real}]
  generator: [{type: lsgan}]
train:
  batch_size: 16
"""


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    """``text`` as the spec file ``tmp_path/name``."""
    path = tmp_path / name
    path.write_text(text)
    return path
