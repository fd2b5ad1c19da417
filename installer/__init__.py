"""The parts of ``install_deps.py`` (standard library only): pins, environments, pip, model files, launcher."""
