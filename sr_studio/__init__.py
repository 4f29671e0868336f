"""SR Studio: upscale pictures and sample GANs on your own machine.

Importing this package is cheap on purpose: torch is imported only by the modules that run a network.
"""

__version__ = "0.1.0"
