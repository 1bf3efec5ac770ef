"""The command line: ``python -m planner ...`` (``main``), with the store and account commands."""
