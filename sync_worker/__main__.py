"""`python -m sync_worker` is the same as the `sync-worker` console script."""

from sync_worker.cli.app import main

main()
