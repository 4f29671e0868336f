"""The Models menu: import, manage, and what each model is for."""
