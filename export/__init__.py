"""warpsmith.export: a stored winner as a pip-installable package that registers a PyTorch op.

Owns: choosing what to export from the store (target.py), the op's schema from the task
(schema.py), and writing the package (package.py, readme.py, templates/). Does not own: the
command line (warpsmith.cli.export_cmd) or any evaluation: the package is made only from what
the store already says is `correct`. Imports only warpsmith.store and warpsmith.tasklib
(DESIGN.md: export -> store, tasklib). docs/export.md describes the package.
"""

from warpsmith.export.package import ExportedPackage, write_package
from warpsmith.export.target import ExportError, ExportTarget, find_target

__all__ = ["ExportError", "ExportTarget", "ExportedPackage", "find_target", "write_package"]
