"""How the core runs on this machine: the torch device and its fast precisions, CPU lanes, the C allocator, Ctrl-C."""
