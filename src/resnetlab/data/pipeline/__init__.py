"""The input pipeline: from a data set to normalised batches on the training device.

loaders (DeviceLoader, in-memory sets; the Loader protocol), folder_loader (FolderLoader, image
folders), batch_augment (crop/flip/normalise whole uint8 batches), image_transforms (per-image
Pillow resize/crop for folders), normalization (the Normalization type).
"""
