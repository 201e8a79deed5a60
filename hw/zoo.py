"""The networks the scheduler is run on, as chains of layers with real shapes.

A network here is what the scheduler needs and nothing more: per layer its
MAC cost per sample and the sizes of the values it exchanges with its
neighbours. Shapes follow the usual ImageNet (224x224x3) definitions:

- ``lenet5``: LeCun et al. 1998, 32x32x1 input, C5 as a 5x5 convolution;
- ``alexnet``: the single-tower variant of torchvision (64-192-384-256-256
  channels, no grouped convolutions);
- ``vgg16``: configuration D, 13 convolutions and 3 fully connected layers;
- ``resnet18``: the chain of its 17 main-path convolutions and the final
  fully connected layer. The three 1x1 shortcut convolutions are off the chain
  and are left out (0.6% of the MACs); the identity shortcuts carry no MACs.

MLPs come from a width string such as ``64-32-10``.
"""
from dataclasses import dataclass, replace

from .config import parse_widths
from .errors import LayerPipeError


@dataclass(frozen=True)
class Layer:
    """One layer of a chain.

    ``macs``: multiply-accumulates per sample of its forward pass (its weight
    gradient and activation gradient cost the same); ``in_size``: values it
    receives (the activation from the previous layer, or the input);
    ``out_size``: values it sends on (after any pooling), which is also the
    size of the gradient coming back; ``n_out``: outputs it computes before
    pooling, i.e. the count of its elementwise work (bias, f, f').
    """
    name: str
    kind: str  # "fc" or "conv"
    macs: int
    in_size: int
    out_size: int
    n_out: int
    shape: str


@dataclass(frozen=True)
class Net:
    """A named chain of layers; ``input_size`` values enter layer 1 per sample."""
    name: str
    input_size: int
    layers: tuple

    def __post_init__(self):
        sizes = [self.input_size] + [layer.out_size for layer in self.layers]
        for layer, size in zip(self.layers, sizes):
            assert layer.in_size == size, f"{self.name}.{layer.name}: chain broken"


class _Chain:
    """Builds a chain layer by layer, tracking the activation shape C x H x W."""

    def __init__(self, c, h, w):
        self.c, self.h, self.w = c, h, w
        self.input_size = c * h * w
        self.layers = []

    def conv(self, name, c_out, k, stride=1, pad=0):
        h = (self.h + 2 * pad - k) // stride + 1
        w = (self.w + 2 * pad - k) // stride + 1
        in_size, n_out = self.c * self.h * self.w, c_out * h * w
        self.layers.append(Layer(
            name, "conv", k * k * self.c * c_out * h * w, in_size, n_out, n_out,
            f"{k}x{k}/{stride} {self.c}->{c_out} @{h}x{w}"))
        self.c, self.h, self.w = c_out, h, w
        return self

    def pool(self, k, stride, pad=0):
        """Pooling has no MACs: it only shrinks what the last layer sends on."""
        self.h = (self.h + 2 * pad - k) // stride + 1
        self.w = (self.w + 2 * pad - k) // stride + 1
        last = self.layers[-1]
        self.layers[-1] = replace(last, out_size=self.c * self.h * self.w,
                                  shape=f"{last.shape}, pool->{self.h}x{self.w}")
        return self

    def fc(self, name, n_out):
        n_in = self.c * self.h * self.w
        self.layers.append(Layer(name, "fc", n_in * n_out, n_in, n_out, n_out, f"{n_in}->{n_out}"))
        self.c, self.h, self.w = n_out, 1, 1
        return self

    def net(self, name):
        return Net(name, self.input_size, tuple(self.layers))


def lenet5():
    return (_Chain(1, 32, 32)
            .conv("c1", 6, 5).pool(2, 2)
            .conv("c3", 16, 5).pool(2, 2)
            .conv("c5", 120, 5)
            .fc("f6", 84).fc("out", 10)
            .net("lenet5"))


def alexnet():
    return (_Chain(3, 224, 224)
            .conv("conv1", 64, 11, 4, 2).pool(3, 2)
            .conv("conv2", 192, 5, 1, 2).pool(3, 2)
            .conv("conv3", 384, 3, 1, 1)
            .conv("conv4", 256, 3, 1, 1)
            .conv("conv5", 256, 3, 1, 1).pool(3, 2)
            .fc("fc6", 4096).fc("fc7", 4096).fc("fc8", 1000)
            .net("alexnet"))


def vgg16():
    chain = _Chain(3, 224, 224)
    for block, (channels, convs) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)], 1):
        for i in range(1, convs + 1):
            chain.conv(f"conv{block}_{i}", channels, 3, 1, 1)
        chain.pool(2, 2)
    return chain.fc("fc6", 4096).fc("fc7", 4096).fc("fc8", 1000).net("vgg16")


def resnet18():
    chain = _Chain(3, 224, 224).conv("conv1", 64, 7, 2, 3).pool(3, 2, 1)
    for stage, channels in enumerate([64, 128, 256, 512], 2):
        for i in range(1, 5):
            stride = 2 if stage > 2 and i == 1 else 1
            chain.conv(f"conv{stage}_{i}", channels, 3, stride, 1)
    chain.pool(7, 7)  # global average pool
    return chain.fc("fc", 1000).net("resnet18")


ZOO = {"lenet5": lenet5, "alexnet": alexnet, "vgg16": vgg16, "resnet18": resnet18}


def mlp(widths):
    """A fully connected chain from widths (n_0, n_1, ..., n_L)."""
    chain = _Chain(widths[0], 1, 1)
    for l, n in enumerate(widths[1:], 1):
        chain.fc(f"fc{l}", n)
    return chain.net("-".join(str(n) for n in widths))


def get_net(text, field="net"):
    """A zoo network by name, or an MLP from a width string like '64-32-10'."""
    if isinstance(text, str) and text.strip().lower() in ZOO:
        return ZOO[text.strip().lower()]()
    if isinstance(text, str) and any(ch.isalpha() for ch in text):
        raise LayerPipeError(
            f"{field}: {text!r} is not a known network; use one of {', '.join(ZOO)} "
            f"or layer widths like 64-32-10")
    return mlp(parse_widths(text, field))
