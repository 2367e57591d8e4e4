"""What the ``pytest11`` entry point named ``onnxgate`` loads: the plugin, :mod:`onnxgate.testing.plugin`, under its
module's own name.

The entry point named the plugin module itself, so pytest registered that module as ``onnxgate``. A suite that also
names it, as one does where onnxgate is on ``PYTHONPATH`` and not installed (``pytest_plugins =
["onnxgate.testing.plugin"]`` in a conftest, or ``-p onnxgate.testing.plugin``), then registered the same module
under a second name once onnxgate was installed, and pluggy stopped the whole run before any test: ``ValueError:
Plugin already registered under a different name`` (helper-411). Named here through ``pytest_plugins``, the plugin
has one name whichever way it comes, and ``-p no:onnxgate`` still turns it off: it blocks this module.
"""

pytest_plugins = ["onnxgate.testing.plugin"]
