"""``python -m synth_pipelines``: the ``synth`` command."""

import sys

from synth_pipelines.cli import main

sys.exit(main())
