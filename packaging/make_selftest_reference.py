"""Make the self-test's reference: the default upscaler's output for resources/selftest/sample.png, computed
by this (unfrozen) package in fp32 on the CPU, and a card naming the model, its weights' sha256 and the
settings. Run it again whenever the built-in upscaler's weights change; tests/test_selftest.py fails until
then.

    .venv/bin/python packaging/make_selftest_reference.py
"""

from __future__ import annotations

import json
import sys

from sr_studio.core.atomic import write_text_atomic
from sr_studio.core.images import load_image, save_image
from sr_studio.core.library import ModelLibrary
from sr_studio.core.upscale import upscale
from sr_studio.selftest import REFERENCE, REFERENCE_CARD, SAMPLE, selftest_files

# fp32 on the CPU through torch: the same pixels on every x86-64 CPU, whatever backend `auto` picks there
SETTINGS = {"device": "cpu", "precision": "fp32", "tile": "none", "backend": "torch"}


def main() -> int:
    folder = selftest_files()
    library = ModelLibrary()
    entry = library.default("upscale")
    if entry is None:
        print("no built-in upscaler", file=sys.stderr)
        return 1
    result = upscale(load_image(folder / SAMPLE), library.load(entry), **SETTINGS)
    save_image(result.picture, folder / REFERENCE, overwrite=True)
    card = {"model": entry.name, "sha256": entry.card.sha256, "settings": SETTINGS}
    write_text_atomic(folder / REFERENCE_CARD, json.dumps(card, indent=1) + "\n")
    print(f"{folder / REFERENCE}: {entry.name} ({entry.card.sha256[:12]}), {SETTINGS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
