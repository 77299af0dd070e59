"""siamkit.cli: the `train` program (cli/program.py) and its commands beside fit / validate / test /
predict, one module each. Library code never imports this package."""
