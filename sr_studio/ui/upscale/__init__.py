"""The Upscale tab: its toolbar, jobs, split view, overlays and save dialog."""
