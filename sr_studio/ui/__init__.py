"""The desktop app: windows, widgets, dialogs and workers. The only package that imports Qt."""
