"""The command line: the capture options declared once (capture, batch, headless Blender), the core's own commands."""
