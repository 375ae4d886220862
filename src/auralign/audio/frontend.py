"""The aiSFX input features: a log-compressed HTK mel power spectrogram computed the way Essentia does.

The aiSFX network was trained on spectrograms from an Essentia streaming chain (FrameCutter ->
Windowing -> Spectrum -> MelBands -> log10(10000 x + 1)). librosa's defaults differ in framing,
window and filter shapes enough to move embeddings (cosine 0.90-0.99), so this module reproduces the
Essentia chain in torch, matched by experiment against Essentia itself (see tests/test_aisfx.py):

* framing: frame k covers samples [k * hop - n_fft // 2, k * hop + n_fft // 2), zero outside the
  clip (Essentia's FrameCutter with startFromZero=False centers frame 0 on sample 0); frames are
  produced while their start lies inside the clip, i.e. ceil((n + n_fft // 2) / hop) frames;
* window: symmetric Hann (0.5 - 0.5 cos(2 pi i / (n_fft - 1))), not normalised;
* spectrum: |rfft|^2 ("power" MelBands square the magnitude spectrum);
* mel filters: triangles whose weights are linear in HTK mel ("warping" weighting) between band
  edges evenly spaced in mel, each row scaled to sum to 1 ("unit_sum");
* compression log10(10000 x + 1), then min-max scaling with the training-set constants.

Level: the package loads audio with Essentia's EasyLoader, whose default replayGain of -6 dB cancels
its built-in +6 dB offset, so it applies unit gain: the package's features depend on the recording
level. `peak_normalize=False` (the default) reproduces that; `peak_normalize=True` scales every clip
to peak 1 first, which makes features level invariant but departs from the package.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn


def hz_to_htk_mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def htk_mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def essentia_mel_filterbank(
    n_fft: int, sample_rate: float, n_mels: int, f_min: float, f_max: float
) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) weights equal to Essentia MelBands(htkMel, warping, unit_sum).

    A bin belongs to band i when edge_i <= f < edge_{i+2} (Hz); its weight rises linearly in mel
    from edge_i to edge_{i+1} and falls to edge_{i+2}. Rows with no bin inside stay all zero.
    """
    n_bins = n_fft // 2 + 1
    bin_hz = np.arange(n_bins) * (sample_rate / 2.0) / (n_bins - 1)
    bin_mel = hz_to_htk_mel(bin_hz)
    edges_mel = np.linspace(hz_to_htk_mel(f_min), hz_to_htk_mel(f_max), n_mels + 2)
    edges_hz = htk_mel_to_hz(edges_mel)
    lower, center, upper = (edges_mel[i : i + n_mels, None] for i in range(3))
    lower_hz, center_hz, upper_hz = (edges_hz[i : i + n_mels, None] for i in range(3))
    rising = (bin_mel - lower) / (center - lower)
    falling = (upper - bin_mel) / (upper - center)
    on_rising = (bin_hz >= lower_hz) & (bin_hz < center_hz)
    on_falling = (bin_hz >= center_hz) & (bin_hz < upper_hz)
    weights = np.where(on_rising, rising, np.where(on_falling, falling, 0.0))
    row_sums = weights.sum(axis=1, keepdims=True)
    return np.divide(weights, row_sums, out=np.zeros_like(weights), where=row_sums > 0)


def essentia_frame_count(n_samples: Tensor | int, n_fft: int, hop_length: int) -> Tensor:
    """Frames Essentia's FrameCutter (startFromZero=False) yields for clips of `n_samples`."""
    n = torch.as_tensor(n_samples, dtype=torch.long)
    return torch.div(n + n_fft // 2 + hop_length - 1, hop_length, rounding_mode="floor")


class EssentiaMelFrontend(nn.Module):
    """Waveforms (B, S) at `sample_rate` -> scaled log-mel spectrogram (B, frames, n_mels).

    Samples past each row's length are treated as silence, so a row's spectrogram never depends on
    how much padding the batch adds; `frame_lengths` says how many of its frames are real.
    """

    def __init__(
        self,
        sample_rate: int = 44100,
        n_fft: int = 2048,
        hop_length: int = 1024,
        n_mels: int = 96,
        f_min: float = 0.0,
        f_max: float = 22050.0,
        spec_min: float = 0.0,
        spec_max: float = 9.457798957824707,
        peak_normalize: bool = False,
    ) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.spec_min = spec_min
        self.spec_max = spec_max
        self.peak_normalize = peak_normalize
        filters = essentia_mel_filterbank(n_fft, sample_rate, n_mels, f_min, f_max)
        self.register_buffer("mel_filters", torch.from_numpy(filters.T.astype(np.float32)), persistent=False)
        self.register_buffer("window", torch.hann_window(n_fft, periodic=False), persistent=False)

    @property
    def silence_value(self) -> float:
        """The feature value of a silent time-frequency cell (0 with the default scaling)."""
        return -self.spec_min / (self.spec_max - self.spec_min)

    def frame_lengths(self, lengths: Tensor) -> Tensor:
        return essentia_frame_count(lengths, self.n_fft, self.hop_length)

    def forward(self, waveforms: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Return (spectrogram (B, frames, n_mels), frame_lengths (B,) long)."""
        batch, n_samples = waveforms.shape
        if lengths is None:
            lengths = torch.full((batch,), n_samples, dtype=torch.long)
        lengths = lengths.to(device=waveforms.device, dtype=torch.long)
        valid = torch.arange(n_samples, device=waveforms.device) < lengths[:, None]
        audio = waveforms.float() * valid
        if self.peak_normalize:
            audio = peak_normalize(audio)
        frame_lengths = self.frame_lengths(lengths)
        n_frames = max(int(frame_lengths.max()), 1) if batch else 1
        padded_total = (n_frames - 1) * self.hop_length + self.n_fft
        left = self.n_fft // 2
        audio = nn.functional.pad(audio, (left, max(padded_total - left - n_samples, 0)))
        spectrum = torch.stft(
            audio[:, :padded_total], self.n_fft, self.hop_length, window=self.window,
            center=False, return_complex=True,
        )
        power = spectrum.real.square() + spectrum.imag.square()
        mel = power.transpose(1, 2) @ self.mel_filters
        spec = torch.log10(1e4 * mel + 1.0)
        return (spec - self.spec_min) / (self.spec_max - self.spec_min), frame_lengths

    def config_string(self) -> str:
        """Every setting that changes the features, for cache fingerprints."""
        return (f"essentia-mel sr={self.sample_rate} n_fft={self.n_fft} hop={self.hop_length} "
                f"mels={self.mel_filters.shape[1]} range=[{self.spec_min},{self.spec_max}] "
                f"peak_normalize={self.peak_normalize} filters_sum={float(self.mel_filters.sum()):.6f}")


def peak_normalize(audio: Tensor) -> Tensor:
    """Scale each row to a peak absolute value of 1; silent rows stay silent."""
    peak = audio.abs().amax(dim=-1, keepdim=True)
    return audio / torch.where(peak > 0, peak, torch.ones_like(peak))


__all__ = [
    "EssentiaMelFrontend",
    "essentia_frame_count",
    "essentia_mel_filterbank",
    "htk_mel_to_hz",
    "hz_to_htk_mel",
    "peak_normalize",
]
