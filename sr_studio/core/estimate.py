"""How big, how long and how much memory an upscale will take, before it starts: for a warning that can
still be answered with "no". No torch and no Qt here, so the GUI thread and the CLI can ask at once.

Time is output megapixels over a rate: the model card's measured output MP/s when it records one
(`metrics.out_mp_per_s`, as `benchmarks/sr_quality.py` names it), else `ASSUMED_MP_PER_S`, a
conservative CPU figure that is only a guess. Memory is the output array, the float copies of the input
the engine works from, and one tile's activations (the architecture's `bytes_per_input_pixel`, as the
engine sizes its tiles with).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sr_studio.models import ARCHITECTURES

if TYPE_CHECKING:
    from sr_studio.core.library import ModelCard

# The built-in ×4 SRResNet runs at 0.2-0.3 output MP/s on a 2-core CPU (benchmarks/README.md); a GPU is
# 100× faster. Lower is the safe side of a warning.
ASSUMED_MP_PER_S = 0.25
LARGE_OUTPUT_MP = 100.0  # above this many output megapixels the GUI asks before upscaling
ASSUMED_TILE = 256  # LR pixels a side: the engine's largest automatic tile on a CPU
ASSUMED_ARCHITECTURE = "srresnet"  # the built-in networks' memory and context, when no card says
ENSEMBLE_PASSES = 8  # "max quality" runs every tile in 8 flips and rotations


@dataclass(frozen=True)
class UpscaleEstimate:
    """The output an upscale will make, and roughly what it will cost."""

    width: int  # output pixels
    height: int
    megapixels: float  # output
    seconds: float
    peak_bytes: int  # output array + float input copies + one tile's activations
    rate_mp_s: float  # output megapixels per second the time assumes
    measured: bool  # whether that rate was measured for this model (False: a guess)

    def describe(self) -> str:
        """ "24000×24000 (576 MP), about 38 min (a guess: 0.25 MP/s), about 4.2 GB of memory"."""
        rate = "measured" if self.measured else "a guess"
        return (
            f"{self.width}×{self.height} ({self.megapixels:.0f} MP), {duration_text(self.seconds)} "
            f"({rate}: {self.rate_mp_s:g} MP/s), about {size_text(self.peak_bytes)} of memory"
        )


def measured_rate(card: ModelCard) -> float | None:
    """The output MP/s the card records having measured, if any."""
    rate = card.metrics.get("out_mp_per_s")
    return float(rate) if isinstance(rate, int | float) and not isinstance(rate, bool) and rate > 0 else None


def estimate_upscale(
    width: int,
    height: int,
    scale: int,
    *,
    rate_mp_s: float | None = None,
    channels: int = 3,
    sample_bytes: int = 1,
    architecture: str = ASSUMED_ARCHITECTURE,
    arguments: dict[str, Any] | None = None,
    precision: str = "fp32",
    tile: int | None = ASSUMED_TILE,
    ensemble: bool = False,
) -> UpscaleEstimate:
    """The estimate for a `width`×`height` input (`channels` samples of `sample_bytes` each) at ×`scale`.

    `rate_mp_s` None assumes `ASSUMED_MP_PER_S` (and says it is a guess); `tile` None is whole-image
    inference, whose activations cover the whole input. Activation memory and a tile's context come
    from the architecture's descriptor with `arguments` (its defaults for any not given, at ×`scale`).
    """
    if width < 1 or height < 1 or scale < 1:
        raise ValueError(f"cannot estimate a {width}×{height} input at ×{scale}")
    arch = ARCHITECTURES[architecture]
    radius, memory = arch.receptive_radius, arch.bytes_per_input_pixel
    if radius is None or memory is None:  # only upscalers have both (Architecture checks)
        raise ValueError(f"{architecture} is not an upscaler: nothing to estimate")
    arguments = {"scale": scale, **(arguments or {})}
    pad = radius(arguments)
    out_width, out_height = width * scale, height * scale
    megapixels = out_width * out_height / 1e6
    rate = ASSUMED_MP_PER_S if rate_mp_s is None else rate_mp_s
    seconds = megapixels / rate * (ENSEMBLE_PASSES if ensemble else 1)
    output_bytes = out_width * out_height * channels * sample_bytes
    float_input = width * height * 3 * (4 + (4 if precision == "fp32" else 2))  # numpy planes + tensor
    side_x, side_y = (width, height) if tile is None else (min(tile, width), min(tile, height))
    tile_area = min(width, side_x + 2 * pad) * min(height, side_y + 2 * pad)
    activations = tile_area * memory(arguments, precision)
    return UpscaleEstimate(
        width=out_width,
        height=out_height,
        megapixels=megapixels,
        seconds=seconds,
        peak_bytes=output_bytes + float_input + activations,
        rate_mp_s=rate,
        measured=rate_mp_s is not None,
    )


def estimate_for_card(
    card: ModelCard,
    width: int,
    height: int,
    *,
    channels: int = 3,
    sample_bytes: int = 1,
    ensemble: bool = False,
) -> UpscaleEstimate:
    """`estimate_upscale` with the card's scale, architecture and measured rate (when it has one)."""
    return estimate_upscale(
        width,
        height,
        card.scale or 1,
        rate_mp_s=measured_rate(card),
        channels=channels,
        sample_bytes=sample_bytes,
        architecture=card.architecture,
        arguments=card.arguments,
        ensemble=ensemble,
    )


def duration(seconds: float) -> str:
    """ "40 s", "23 min", "2 h 5 min": as precise as an estimate deserves."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes} min"


def duration_text(seconds: float) -> str:
    """ "about 40 s", "about 23 min", "about 2 h 5 min"."""
    return f"about {duration(seconds)}"


def eta_text(seconds: float | None) -> str:
    """A rough, human time left: precision the estimate does not have would only flicker."""
    if seconds is None:
        return "estimating time left…"
    if seconds < 10:
        return "a few seconds left"
    if seconds < 90:
        return f"about {round(seconds / 5) * 5} s left"
    return f"{duration_text(seconds)} left"


def size_text(size: int) -> str:
    """ "750 MB", "2.9 GB"."""
    if size < 1e9:
        return f"{max(1, math.ceil(size / 1e6))} MB"
    return f"{size / 1e9:.1f} GB"
