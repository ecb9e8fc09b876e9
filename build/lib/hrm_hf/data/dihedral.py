"""The 8 symmetries of the square, numbered as in the release (its evaluation undoes them by these ids)."""

from __future__ import annotations

import numpy as np


NUM_DIHEDRAL = 8

# INVERSE[t] undoes transform t.
INVERSE = (0, 3, 2, 1, 4, 5, 6, 7)


def dihedral_transform(grid: np.ndarray, transform_id: int) -> np.ndarray:
    """Apply symmetry `transform_id` (0 identity, 1-3 rotations by 90/180/270 degrees counter-clockwise,
    4 left-right flip, 5 up-down flip, 6 transpose, 7 anti-transpose) to the first two axes of `grid`."""
    if transform_id == 0:
        return grid
    if 1 <= transform_id <= 3:
        return np.rot90(grid, k=transform_id)
    if transform_id == 4:
        return np.fliplr(grid)
    if transform_id == 5:
        return np.flipud(grid)
    if transform_id == 6:
        return grid.swapaxes(0, 1)
    if transform_id == 7:
        return np.fliplr(np.rot90(grid, k=1))
    raise ValueError(f"Dihedral transform id must be in 0..7, got {transform_id}")


def inverse_dihedral_transform(grid: np.ndarray, transform_id: int) -> np.ndarray:
    """Undo `dihedral_transform(grid, transform_id)`."""
    return dihedral_transform(grid, INVERSE[transform_id])
