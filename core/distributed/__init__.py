"""Running the batch on a cluster: :mod:`core.distributed.ray_runner` (the only module that imports ray)."""
