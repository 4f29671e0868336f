"""The window and what belongs to the whole app: launch, settings, the About box."""
