"""siamkit.evaluation: the pairs every method is scored on, metrics, the runner, plots and
the HTML report (``train evaluate``)."""
