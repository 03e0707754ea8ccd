"""Built-in feature data sets: the field's benchmark files (xlsa17) and zsk's feature folders."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from zsk.core.components.interfaces import Dataset
from zsk.core.components.zsl_data import ZslData
from zsk.core.data.feature_folder import ARRAY, INDEX, read_feature_folder
from zsk.core.data.feature_scaling import SCALING_HELP, FeatureScaling, scale_features
from zsk.core.data.readers import require_folder, resolve
from zsk.core.data.xlsa17 import read_files, to_zsl_data
from zsk.registry import hookimpl


class Xlsa17(Dataset):
    """ResNet-101 features of the field's benchmark files (Xian et al. 2018, "xlsa17"):
    ``res101.mat`` and ``att_splits.mat`` of AwA1, AwA2, CUB, SUN, aPY or FLO."""

    name = "xlsa17"
    marker_files = ("res101.mat", "att_splits.mat")

    class Params(Dataset.Params):
        root: str = Field(
            "data/xlsa17/AWA2", description="folder holding res101.mat and att_splits.mat"
        )
        split: Literal["proposed", "validation"] = Field(
            "proposed",
            description="'proposed': train on trainval_loc, test on test_seen_loc and "
            "test_unseen_loc (the published protocol); 'validation': train on train_loc's "
            "classes, val_loc's classes unseen (for choosing settings, never the test sets)",
        )
        features: str = Field("res101.mat", description="features file, relative to root")
        splits: str = Field("att_splits.mat", description="attributes and splits file")
        seen_test_fraction: float = Field(
            0.2,
            ge=0,
            lt=1,
            description="split 'validation' only: share of each train class's samples held out "
            "as its seen test set (the benchmark has none for that split)",
        )
        split_seed: int = Field(0, description="seed of that held-out choice")
        scaling: FeatureScaling = Field("none", description=SCALING_HELP)

    def load(self) -> ZslData:
        p = self.params
        root = Path(p.root).expanduser()
        require_folder(root)
        splits_file = resolve(root, p.splits)
        files = read_files(resolve(root, p.features), splits_file)
        data = to_zsl_data(root, files, splits_file, p.split, p.seen_test_fraction, p.split_seed)
        return scale_features(data, p.scaling)


class FeatureFolder(Dataset):
    """Features written by ``zsk data features`` (features.npy, features.json, samples.csv)."""

    name = "feature_folder"
    marker_files = (INDEX, ARRAY)

    class Params(Dataset.Params):
        root: str = Field("data/features", description="folder holding features.json")
        scaling: FeatureScaling = Field("none", description=SCALING_HELP)

    def load(self) -> ZslData:
        root = Path(self.params.root).expanduser()
        require_folder(root)
        return scale_features(read_feature_folder(root), self.params.scaling)


@hookimpl
def zsk_register_components(register):
    register(Xlsa17)
    register(FeatureFolder)
