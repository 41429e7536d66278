"""Data sets and input pipelines: official readers, find/download, splits, fast loaders."""

from resnetlab.data.datasets import (
    ImageSet,
    channel_stats,
    load_dataset,
    pixel_mean,
    split_validation,
    stratified_subset,
)
from resnetlab.data.loaders import DeviceLoader
from resnetlab.data.sources import SOURCES, ensure, find, get_source

__all__ = [
    "SOURCES",
    "DeviceLoader",
    "ImageSet",
    "channel_stats",
    "ensure",
    "find",
    "get_source",
    "load_dataset",
    "pixel_mean",
    "split_validation",
    "stratified_subset",
]
