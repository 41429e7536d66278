"""Getting data sets: where they are (sources), download, the readers of the official file
formats, ImageSet (in-memory sets and their splits) and image folders (FolderSet)."""
