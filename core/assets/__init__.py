"""Model files: the table of files and where they live (table), whether a file is the right one (checks), the CLI."""
