"""``python -m siamkit``: the `train` program, also where its console scripts are not on PATH."""

import sys

from siamkit.cli.program import main

if __name__ == "__main__":
    # Lightning's usage lines name sys.argv[0] ("__main__.py"); its DDP re-launch uses -m, not argv[0]
    sys.argv[0] = "python -m siamkit"
    sys.exit(main())
