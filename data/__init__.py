"""siamkit.data: image decoding, data sources and splits, datasets, samplers, augmentation,
the DataModule and the bundled demo sets.

Nothing is imported here eagerly: ``siamkit.data.images`` must stay importable without
torch, for the classical scoring methods.
"""

import os

# albumentations asks the network for its newest version when imported; siamkit runs offline
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
