"""siamkit.evaluation: the pairs every method is scored on, metrics, the runner, plots and
the HTML report (``train evaluate``)."""

#: pairs scored at a time (``train evaluate --chunk``): bounds the memory of the images they hold; here,
#: where the command's arguments can read it without loading the runner
CHUNK = 4096
