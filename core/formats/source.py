"""``SourceMotion``: recorded motion on its own skeleton (as read from BVH or DeepMimic), before retargeting.

A skeleton of J joints: names, parents (``-1`` for the root; every parent comes before its children), rest
offsets of each joint from its parent (the pose with every rotation at identity), per frame a **local**
rotation of every joint and the root joint's position. Units are the file's (BVH: often centimetres or
inches); :mod:`.to_smpl` scales by leg length, so nothing here needs metres. Rotations are column-vector
rotation matrices, as everywhere in this project (:mod:`core.rotations`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidMotionFileError

@dataclass
class SourceMotion:
    """names: J joint names; parents: (J,) int64; offsets: (J, 3) rest offset from the parent (root: its rest
    position); local_rotmat: (T, J, 3, 3); root_position: (T, 3); times_s: (T,) increasing; ``source``: where
    it came from (for messages)."""

    names: tuple[str, ...]
    parents: np.ndarray
    offsets: np.ndarray
    local_rotmat: np.ndarray
    root_position: np.ndarray
    times_s: np.ndarray
    source: str = "<motion>"

    def __len__(self) -> int:
        return int(self.local_rotmat.shape[0])

    @property
    def fps(self) -> float:
        t = np.asarray(self.times_s, dtype=np.float64)
        return float(1.0 / np.median(np.diff(t))) if t.shape[0] > 1 else 30.0

    def index(self, name: str) -> int:
        return self.names.index(name)

    def rest_positions(self) -> np.ndarray:
        """(J, 3) joint positions in the rest pose (root at its rest offset)."""
        P = np.zeros((len(self.names), 3))
        for j, p in enumerate(self.parents):
            P[j] = self.offsets[j] if p < 0 else P[p] + self.offsets[j]
        return P

    def forward_kinematics(self) -> tuple[np.ndarray, np.ndarray]:
        """(positions (T, J, 3), global rotations (T, J, 3, 3)), float64, the root at ``root_position``."""
        R = np.asarray(self.local_rotmat, dtype=np.float64)
        T, J = R.shape[:2]
        G = np.empty_like(R)
        P = np.empty((T, J, 3))
        off = np.asarray(self.offsets, dtype=np.float64)
        for j, p in enumerate(self.parents):
            if p < 0:
                G[:, j] = R[:, j]
                P[:, j] = self.root_position
            else:
                G[:, j] = G[:, p] @ R[:, j]
                P[:, j] = P[:, p] + np.einsum("tij,j->ti", G[:, p], off[j])
        return P, G


def check_source(motion: SourceMotion) -> SourceMotion:
    """Shapes and values of a freshly read motion (files are untrusted). Raises InvalidMotionFileError."""
    J = len(motion.names)
    T = motion.local_rotmat.shape[0]
    where = motion.source
    if J == 0 or T == 0:
        raise InvalidMotionFileError(f"{where}: no joints or no frames")
    if motion.parents.shape != (J,) or motion.offsets.shape != (J, 3) or motion.local_rotmat.shape != (T, J, 3, 3) \
            or motion.root_position.shape != (T, 3) or motion.times_s.shape != (T,):
        raise InvalidMotionFileError(f"{where}: inconsistent joint or frame counts")
    for j, p in enumerate(motion.parents.tolist()):
        if not -1 <= p < j or (p < 0) != (j == 0):
            raise InvalidMotionFileError(f"{where}: joint '{motion.names[j]}' has a bad parent (one root, parents first)")
    for name, value in (("offsets", motion.offsets), ("rotations", motion.local_rotmat),
                        ("positions", motion.root_position), ("frame times", motion.times_s)):
        if not np.all(np.isfinite(value)):
            raise InvalidMotionFileError(f"{where}: {name} contain NaN or infinite values")
    if T > 1 and not np.all(np.diff(motion.times_s) > 0):
        raise InvalidMotionFileError(f"{where}: the frame time must be positive")
    return motion
