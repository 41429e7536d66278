"""Data sets and input pipelines: official readers, find/download, splits, fast loaders."""

from resnetlab.data.datasets import (
    ImageSet,
    channel_stats,
    load_dataset,
    pixel_mean,
    split_validation,
    stratified_subset,
)
from resnetlab.data.folder import FolderLoader, FolderSet, scan_folder
from resnetlab.data.loaders import DeviceLoader
from resnetlab.data.sources import SOURCES, ensure, find, get_source

__all__ = [
    "SOURCES",
    "DeviceLoader",
    "FolderLoader",
    "FolderSet",
    "ImageSet",
    "channel_stats",
    "ensure",
    "find",
    "get_source",
    "load_dataset",
    "pixel_mean",
    "scan_folder",
    "split_validation",
    "stratified_subset",
]
