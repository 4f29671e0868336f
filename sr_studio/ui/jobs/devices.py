"""The device choice the Upscale toolbar, the batch dialog and the wizard all offer: one combo box.

It starts with what needs no torch (Auto, and any device named already) and fills with every device torch
sees once `probe` has listed them in a worker, since the first torch import takes seconds.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QWidget

from sr_studio.core.jobs import CancelToken, Progress
from sr_studio.ui.jobs import workers

AUTO_LABEL = "auto (best available)"
LABELS = {"cpu": "CPU", "mps": "Apple GPU (MPS)"}  # a CUDA device's label names its GPU (list_devices)


def list_devices(cancel: CancelToken) -> Generator[Progress, None, list[tuple[str, str]]]:
    """(device, label) for every device torch sees; a job because the first torch import takes seconds."""
    yield Progress(0, 1, "devices")
    import torch

    from sr_studio.core.engine import available_devices

    devices = []
    for name in available_devices():
        if name.startswith("cuda"):
            label = f"{name} — {torch.cuda.get_device_name(torch.device(name))}"
        else:
            label = LABELS.get(name, name)
        devices.append((name, label))
    return devices


class DeviceCombo(QComboBox):
    """Where the network runs: "auto" first, then devices by name; `listed` gives what `probe` found."""

    listed = Signal(list)  # [(device, label)] from torch, once added

    def __init__(
        self, names: Sequence[str] = (), *, auto_label: str = AUTO_LABEL, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.addItem(auto_label, "auto")
        self.add_names(names)
        self._probed = False

    def current_device(self) -> str:
        return self.currentData() or "auto"

    def add_devices(self, devices: Sequence[tuple[str, str]]) -> None:
        """Offer more devices, as (name, label) pairs; the current choice stays, and says nothing."""
        blocked = self.blockSignals(True)
        try:
            for name, label in devices:
                if self.findData(name) < 0:
                    self.addItem(label, name)
        finally:
            self.blockSignals(blocked)

    def add_names(self, names: Sequence[str]) -> None:
        """Offer devices known only by name (remembered, or passed from the window)."""
        self.add_devices([(name, LABELS.get(name, name)) for name in names])

    def select(self, name: str) -> None:
        """Choose `name`, offering it first if it is not listed (a remembered GPU before the probe)."""
        self.add_names([name])
        self.setCurrentIndex(self.findData(name))

    def probe(self, pool: workers.Pool | None = None) -> None:
        """List torch's devices in a worker, once, and add them."""
        if not self._probed:
            self._probed = True
            workers.start_job(list_devices, pool, finished=self._found)

    def _found(self, devices: list[tuple[str, str]]) -> None:
        self.add_devices(devices)
        self.listed.emit(devices)
