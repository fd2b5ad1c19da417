"""Many clips, resumably: ``python -m core batch INPUTS... -o OUT_DIR [--workers N] [--ray auto|local|ADDRESS]``.

One stage per module, in the order a batch runs:

- :mod:`core.batch.inputs`     INPUTS (files, folders, globs, ``.txt``/``.csv`` lists with per-clip options)
                               -> :class:`~core.batch.inputs.Clip` list with output names that cannot collide
- :mod:`core.batch.manifest`   the JSON-lines manifest in OUT_DIR: what is done, failed, changed (resume)
- :mod:`core.batch.worker`     one clip in a process that keeps its models loaded (used by every executor)
- :mod:`core.batch.local`      N worker processes on this machine (spawn, a shared queue, longest clips first)
- :mod:`core.batch.ray_runner` the same work as Ray actors (the only module that imports ``ray``)
- :mod:`core.batch.runner`     plan -> execute -> record, progress bar with ETA, Ctrl-C, exit code
- :mod:`core.batch.cli`        the ``batch`` sub-command's options

Exit codes of ``python -m core batch`` (:data:`core.batch.runner.EXIT_SOME_FAILED` and friends): 0 every clip is
done; 3 some clips failed (each error is in the manifest; re-run with ``--retry-failed``); 2 the batch could not
start or had to stop (bad options, no inputs, output folder not writable or full, Ray unreachable: one
``error:`` line); 130 interrupted (Ctrl-C): finished clips are kept, running ones leave no output.
"""
