"""Reading MATLAB ``.mat`` files safely: v5 with SciPy, v7.3 (HDF5) with h5py when installed.

The field's benchmark files (``res101.mat``, ``att_splits.mat``) are MATLAB v5 files; some
re-exports are v7.3, which is HDF5 underneath. Both are read into plain NumPy arrays in MATLAB's
orientation (an A×C matrix in MATLAB is an A×C array here): numeric variables as arrays, cell
arrays of strings as lists of ``str``. Nothing is unpickled or executed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zsk.registry import UserError

#: The first bytes of every v7.3 MAT file's text header.
V73_HEADER = b"MATLAB 7.3 MAT-file"
MAT73_EXTRA = "pip install zsk-toolkit[mat73]"


def load_mat(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray | list[str]]:
    """The variables ``names`` of the MAT file ``path`` (those it holds; missing ones absent)."""
    if not path.is_file():
        raise UserError(
            "file not found",
            where=str(path),
            hint="put the data set's files from the benchmark download in this folder",
        )
    with open(path, "rb") as handle:
        header = handle.read(len(V73_HEADER))
    if header == V73_HEADER:
        return _load_v73(path, names)
    return _load_v5(path, names)


def _load_v5(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray | list[str]]:
    import scipy.io
    from scipy.io.matlab import MatReadError

    try:
        raw = scipy.io.loadmat(str(path), variable_names=list(names))
    except (MatReadError, ValueError, TypeError, OSError, NotImplementedError) as exc:
        raise UserError(
            f"not a readable MATLAB file ({exc})",
            where=str(path),
            hint="replace it with the original file from the benchmark download",
        ) from None
    return {name: _v5_value(raw[name]) for name in names if name in raw}


def _v5_value(value: np.ndarray) -> np.ndarray | list[str]:
    """A cell array of strings as ``list[str]``; any other array unchanged."""
    if value.dtype == object:
        return [_cell_text(cell) for cell in value.ravel(order="F")]
    return value


def _cell_text(cell: object) -> str:
    array = np.asarray(cell)
    if array.size == 0:
        return ""
    if array.dtype.kind == "U":
        return "".join(str(part) for part in array.ravel())
    raise UserError(f"expected a cell array of text, found a cell holding {array.dtype} values")


def _load_v73(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray | list[str]]:
    try:
        import h5py
    except ImportError:
        raise UserError(
            "is a MATLAB v7.3 (HDF5) file, which needs the optional h5py package",
            where=str(path),
            hint=f"install it with `{MAT73_EXTRA}`, or save the file as v7 "
            "(MATLAB: save(name, '-v7'))",
        ) from None
    try:
        with h5py.File(path, "r") as mat:
            for name in names:
                if name in mat and not isinstance(mat[name], h5py.Dataset):
                    raise UserError(
                        f"variable '{name}' is a MATLAB struct or object, not a matrix or a cell "
                        "array",
                        where=str(path),
                        hint="replace it with the original file from the benchmark download",
                    )
            return {name: _h5_value(mat, mat[name]) for name in names if name in mat}
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise UserError(
            f"not a readable MATLAB v7.3 file ({exc})",
            where=str(path),
            hint="replace it with the original file from the benchmark download",
        ) from None


def _h5_value(mat, dataset) -> np.ndarray | list[str]:
    """A v7.3 variable in MATLAB orientation (HDF5 stores MATLAB's columns as rows)."""
    value = dataset[()]
    if value.dtype.kind == "O":  # a cell array: references to one dataset per cell
        return [_h5_text(mat[ref]) for ref in value.T.ravel(order="F")]
    if dataset.attrs.get("MATLAB_class") == b"char":
        return [_h5_text(dataset)]
    return np.asarray(value).T


def _h5_text(dataset) -> str:
    codes = np.asarray(dataset[()]).ravel(order="F")
    if dataset.attrs.get("MATLAB_empty", 0):
        return ""
    return "".join(chr(int(c)) for c in codes)
