"""The command line's shared pieces: the capture options declared once (capture, batch, the headless Blender command)."""
