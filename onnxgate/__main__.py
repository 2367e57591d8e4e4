"""``python -m onnxgate``."""

from onnxgate.cli import main

raise SystemExit(main())
