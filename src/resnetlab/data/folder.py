"""Moved: image folders to resnetlab.data.sets.folders, FolderLoader to
resnetlab.data.pipeline.folder_loader; kept for one release."""

from resnetlab.data.pipeline.folder_loader import FolderLoader, sample_rng
from resnetlab.data.sets.folders import IMAGE_EXTENSIONS, FolderSet, describe_folder, scan_folder

__all__ = ["IMAGE_EXTENSIONS", "FolderLoader", "FolderSet", "describe_folder", "sample_rng",
           "scan_folder"]
