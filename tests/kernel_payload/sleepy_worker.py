"""A background worker for the tests: leaves a partial file in FOLDER, says so, then sleeps."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from kernel_payload.background import partial_name

if __name__ == "__main__":
    folder = Path(sys.argv[1])
    partial_name(folder / "figure.png").write_bytes(b"\x89PNG half")
    print("partial file written", flush=True)
    time.sleep(120)
