"""The command line: options declared once (capture: ``options``, ``speed``; refine: ``refine_options``), the value
parsers every command and batch list shares (``values``), and the core's own commands (``commands``)."""
