"""Project tooling around the constructs: values files, synth, checks, diff, Helm export.

Importing it points jsii at the bundled Node 24 (``node.use_bundled_node``), before any tool
imports the library: every command runs on the same Node as ``make synth``.
"""

from .node import use_bundled_node

use_bundled_node()
