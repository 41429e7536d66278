"""Data: getting data sets (data.sets: sources, download, readers, ImageSet, image folders) and
the input pipeline (data.pipeline: loaders, augmentation, transforms, normalisation)."""

from resnetlab.data.pipeline.folder_loader import FolderLoader
from resnetlab.data.pipeline.loaders import DeviceLoader, Loader
from resnetlab.data.pipeline.normalization import Normalization
from resnetlab.data.sets.datasets import (
    ImageSet,
    channel_stats,
    load_dataset,
    pixel_mean,
    split_validation,
    stratified_subset,
)
from resnetlab.data.sets.folders import FolderSet, scan_folder
from resnetlab.data.sets.sources import (
    SOURCES,
    builtin_name,
    ensure,
    find,
    get_source,
    resolve_data,
)

__all__ = [
    "SOURCES",
    "DeviceLoader",
    "FolderLoader",
    "FolderSet",
    "ImageSet",
    "Loader",
    "Normalization",
    "builtin_name",
    "channel_stats",
    "ensure",
    "find",
    "get_source",
    "load_dataset",
    "pixel_mean",
    "resolve_data",
    "scan_folder",
    "split_validation",
    "stratified_subset",
]
