"""The scenarios of `python -m bench`, one module per family."""
