"""Published ResNet weights by name: a catalogue, a verified download cache, and loading.

    from resnetlab import create_model
    net = create_model("resnet50", pretrained="tv-resnet50-v2")           # ImageNet-1k
    net = create_model("resnet20", pretrained="cifar10-resnet20", num_classes=5)  # new fc

- catalog: PublishedWeights entries (URL, published checksum, architecture, source format,
  classes, normalisation, input size, published accuracy); get_weights(name), list_weights().
- cache: fetch(name) -> verified local file (download with resume, atomic placement),
  cache_dir(), cache_path(name); ChecksumError, WeightsNotAvailable.
- pretrained: load_pretrained(model_name, pretrained, num_classes=...) -> (model, report),
  init_from(model, source) -> LoadReport (loaded / new tensors), read_pretrained(source).
- metadata: class names and normalisation of the known sources (source_meta), and
  read_classes_file for `resnetlab convert --classes`.
"""

from resnetlab.weights.cache import (
    ChecksumError,
    WeightsNotAvailable,
    cache_dir,
    cache_path,
    fetch,
    find_cached,
)
from resnetlab.weights.catalog import (
    CATALOG,
    PublishedWeights,
    default_weights,
    get_weights,
    list_weights,
)
from resnetlab.weights.metadata import imagenet_classes, read_classes_file, source_meta
from resnetlab.weights.pretrained import (
    LoadReport,
    create_model,
    detect_source,
    init_from,
    load_pretrained,
    read_pretrained,
)

__all__ = [
    "CATALOG",
    "ChecksumError",
    "LoadReport",
    "create_model",
    "PublishedWeights",
    "WeightsNotAvailable",
    "cache_dir",
    "cache_path",
    "default_weights",
    "detect_source",
    "fetch",
    "find_cached",
    "get_weights",
    "imagenet_classes",
    "init_from",
    "list_weights",
    "load_pretrained",
    "read_classes_file",
    "read_pretrained",
    "source_meta",
]
