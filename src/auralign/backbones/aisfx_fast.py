"""The fast inference path of the aiSFX network: BatchNorm folded into the convolutions, run by ONNX Runtime.

Measured on this project's 2-core CPU (docs/performance.md): ONNX Runtime over the folded network is
the fastest exact option (about 2x eager; its tokens match eager to ~1e-6, cosine 1.0), ahead of
channels_last + folding in eager torch (1.4x). The exported graph is cached on disk under
`$AURALIGN_HOME/compiled/<encoder fingerprint>-<precision>.onnx`, so only the first process ever pays
for the export (a few seconds). Where onnxruntime is missing or the export fails, the folded network
runs in eager torch (channels_last) after a one-line notice.

Precisions: `fp32` (default, exact); `bf16` (opt-in: eager torch under bfloat16 autocast); `int8`
(opt-in: ONNX Runtime dynamic int8 quantisation of the weights). Their measured cosines against fp32
are in docs/performance.md; neither is exact, which is why neither is the default.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from auralign.errors import AuralignError
from auralign.paths import compiled_dir

PRECISIONS = ("fp32", "bf16", "int8")
TokenFn = Callable[[Tensor, Tensor], Tensor]


def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """conv (no bias) then eval-mode BatchNorm -> one conv with a bias: the same function."""
    folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, padding=conv.padding, bias=True)
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    with torch.no_grad():
        folded.weight.copy_(conv.weight * scale[:, None, None, None])
        folded.bias.copy_(bn.bias - bn.running_mean * scale)
    return folded.requires_grad_(False)


class FoldedAisfxNet(nn.Module):
    """`AisfxNet` with each conv + BatchNorm pair folded: spec (B, T, mels), frame lengths (B,) -> tokens."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        blocks = (net.conv_block1, net.conv_block2, net.conv_block3, net.conv_block4)
        self.convs = nn.ModuleList(fold_conv_bn(conv, bn) for block in blocks
                                   for conv, bn in ((block.conv1, block.bn1), (block.conv2, block.bn2)))
        self.eval()

    def forward(self, spec: Tensor, frame_lengths: Tensor) -> Tensor:
        from auralign.backbones.aisfx import zero_beyond

        x = spec.unsqueeze(1)
        lengths = frame_lengths
        for block in range(4):
            x = F.relu(self.convs[2 * block](zero_beyond(x, lengths)))
            x = F.relu(self.convs[2 * block + 1](zero_beyond(x, lengths)))
            if block < 3:
                x = F.max_pool2d(x, 2)
                lengths = torch.div(lengths, 2, rounding_mode="floor")
        return x.mean(dim=3).transpose(1, 2)


def fast_network(net: nn.Module, fingerprint: str, n_mels: int, precision: str = "fp32") -> TokenFn:
    """The fastest available `(spec, frame_lengths) -> tokens` for `net` at `precision`."""
    if precision not in PRECISIONS:
        raise AuralignError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    folded = FoldedAisfxNet(net)
    if precision == "bf16":
        return _eager(folded, torch.bfloat16)
    try:
        return _onnx_session(folded, compiled_dir() / f"{fingerprint}-{precision}.onnx", n_mels, precision)
    except Exception as error:  # no onnxruntime, an export or session failure: eager is always there
        if precision == "int8":
            raise AuralignError(f"int8 needs onnxruntime ({type(error).__name__}: {error})") from error
        sys.stderr.write(f"notice: aiSFX runs in eager torch, not ONNX Runtime ({type(error).__name__}: "
                         f"{str(error).splitlines()[0][:160] if str(error) else 'no detail'})\n")
        return _eager(folded, None)


def _eager(folded: FoldedAisfxNet, autocast: torch.dtype | None) -> TokenFn:
    folded = folded.to(memory_format=torch.channels_last)

    def run(spec: Tensor, frame_lengths: Tensor) -> Tensor:
        with torch.autocast("cpu", dtype=autocast, enabled=autocast is not None):
            return folded(spec, frame_lengths).float()

    return run


def export_onnx(module: nn.Module, inputs: tuple[Tensor, ...], target: Path, input_names: list[str],
                output_names: list[str], dynamic_axes: dict[str, dict[int, str]]) -> Path:
    """Export `module` to `target` atomically (the legacy exporter: no extra dependency, dynamic axes)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, inputs, str(tmp), input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, opset_version=17, dynamo=False)
    os.replace(tmp, target)
    return target


def _onnx_session(folded: FoldedAisfxNet, target: Path, n_mels: int, precision: str) -> TokenFn:
    import onnxruntime as ort

    if not target.is_file():
        fp32 = target.with_name(target.name.replace(f"-{precision}.onnx", "-fp32.onnx"))
        if not fp32.is_file():
            export_onnx(folded, (torch.zeros(2, 100, n_mels), torch.tensor([100, 60])), fp32, ["spec", "frame_lengths"], ["tokens"],
                        {"spec": {0: "batch", 1: "frames"}, "frame_lengths": {0: "batch"},
                         "tokens": {0: "batch", 1: "tokens"}})
        if precision == "int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
            quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
            os.replace(tmp, target)
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])

    def run(spec: Tensor, frame_lengths: Tensor) -> Tensor:
        feeds = {"spec": spec.detach().float().contiguous().numpy(),
                 "frame_lengths": frame_lengths.detach().to(torch.long).numpy()}
        return torch.from_numpy(session.run(None, feeds)[0])

    return run
