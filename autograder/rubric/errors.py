"""The error a rubric that does not load raises: its own module, so the command line can name it
without importing the schema and every check kind behind it."""


class RubricError(ValueError):
    """A rubric that does not validate; the message names the file, key path and line."""
