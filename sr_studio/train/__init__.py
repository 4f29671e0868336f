"""Training upscalers and GANs as a child process that reports JSON lines (no Qt here)."""
