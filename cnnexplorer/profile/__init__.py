"""``cnnexplorer profile``: measured time per layer against the device's roofline.

:mod:`.results` is torch-free (the types, the roofline arithmetic, the JSON document);
:mod:`.measure` and :mod:`.peaks` run torch.
"""

from cnnexplorer.profile.results import LayerProfile, Peaks, Profile, from_json, to_json

__all__ = ["LayerProfile", "Peaks", "Profile", "from_json", "to_json"]
