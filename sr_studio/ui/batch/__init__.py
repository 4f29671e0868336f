"""The batch dialog and its progress view."""
