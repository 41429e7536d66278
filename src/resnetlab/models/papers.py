"""The family's papers and the numbers they publish for the nets the registry names: one home,
read by the registry (ModelSpec.paper, paper_error, params). The 2015 paper's own numbers
live in resnetlab.paper, where the experiment reports read them too.

Errors are top-1 test error in % (CIFAR-10 test set; ImageNet val, single 224 crop unless
`where` says otherwise); params are as printed in the paper (rounded to its precision).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Quote:
    """What a paper prints for one net."""

    error: float | None = None
    params: float | None = None
    where: str = ""
    note: str = ""


@dataclass(frozen=True)
class Paper:
    cite: str
    arxiv: str
    nets: dict[str, Quote] = field(default_factory=dict)


PAPERS: dict[str, Paper] = {
    "resnet": Paper("He, Zhang, Ren, Sun 2015, Deep Residual Learning for Image Recognition",
                    "1512.03385"),  # numbers: resnetlab.paper
    "preact": Paper(
        "He, Zhang, Ren, Sun 2016, Identity Mappings in Deep Residual Networks", "1603.05027",
        {
            "preact_resnet110": Quote(6.37, None, "Table 3, CIFAR-10"),
            "preact_resnet164": Quote(5.46, 1.7e6, "Table 3, CIFAR-10"),
            "preact_resnet1001": Quote(
                4.92, 10.2e6, "Table 3, CIFAR-10",
                "4.62 in Table 4 (mini-batch 64); 10.2M matches the count without BN "
                "parameters (10,178,490 here; 10,327,706 with them)"),
        }),
    "wrn": Paper(
        "Zagoruyko, Komodakis 2016, Wide Residual Networks", "1605.07146",
        {
            "wrn28_10": Quote(3.89, 36.5e6, "Table 6, CIFAR-10, dropout 0.3 between convs"),
            "wrn40_4": Quote(None, 8.9e6, "Table 4"),
            "wrn16_8": Quote(None, 11.0e6, "Table 4"),
        }),
    "resnext": Paper(
        "Xie, Girshick, Dollar, Tu, He 2017, Aggregated Residual Transformations for Deep "
        "Neural Networks", "1611.05431",
        {
            "resnext29_8x64d": Quote(3.65, 34.4e6, "Table 7, CIFAR-10"),
            "resnext29_16x64d": Quote(3.58, 68.1e6, "Table 7, CIFAR-10"),
            "resnext50_32x4d": Quote(22.2, 25.0e6, "Table 3 (error), Table 1 (params)"),
        }),
    "senet": Paper(
        "Hu, Shen, Sun 2018, Squeeze-and-Excitation Networks", "1709.01507",
        {"seresnet50": Quote(23.29, None, "Table 2, SENet column (ResNet-50 re-trained: "
                                          "24.80), single crop")}),
    "tricks": Paper(
        "He, Zhang, Zhang, Zhang, Xie, Li 2019, Bag of Tricks for Image Classification with "
        "Convolutional Neural Networks", "1812.01187",
        {
            "resnet50c": Quote(23.13, None, "Table 5 (76.87% top-1)"),
            "resnet50d": Quote(22.84, None, "Table 5 (77.16% top-1)"),
        }),
    "stochastic_depth": Paper(
        "Huang, Sun, Liu, Sedra, Weinberger 2016, Deep Networks with Stochastic Depth",
        "1603.09382"),
}


def quote(paper: str, name: str) -> Quote:
    """The paper's numbers for a net (an empty Quote where it prints none)."""
    return PAPERS[paper].nets.get(name, Quote())
