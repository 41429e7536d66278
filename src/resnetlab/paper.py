"""The paper's published numbers (He et al. 2015, arXiv:1512.03385): one home, read by the model
registry (ModelSpec.paper_error) and by the experiment reports."""

# CIFAR-10 test error (%) of ResNet-n, Table 6.
CIFAR10_ERRORS = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43, 1202: 7.93}

# ImageNet val top-1 error (%), 10-crop: Table 2 (18, plain), Table 3 (34 B, 50, 101, 152).
IMAGENET_ERRORS = {
    ("resnet", 18): (27.88, "Table 2, 10-crop"),
    ("resnet", 34): (24.52, "Table 3, option B, 10-crop"),
    ("resnet", 50): (22.85, "Table 3, option B, 10-crop"),
    ("resnet", 101): (21.75, "Table 3, option B, 10-crop"),
    ("resnet", 152): (21.43, "Table 3, option B, 10-crop"),
    ("plain", 18): (27.94, "Table 2, 10-crop"),
    ("plain", 34): (28.54, "Table 2, 10-crop"),
}

# ImageNet val top-1 error (%), 10-crop, of ResNet-34 with shortcut option A, B or C (Table 3);
# B is the registry's resnet34.
TABLE3_SHORTCUTS = {"A": 25.03, "B": IMAGENET_ERRORS[("resnet", 34)][0], "C": 24.19}
