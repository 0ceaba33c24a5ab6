"""``python -m ovn_vif.cli``: the ``ovn-vif`` command without its script."""

from __future__ import annotations

import sys

from ovn_vif.cli import main

sys.exit(main())
