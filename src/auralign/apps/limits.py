"""What the server accepts: request size and duration limits, label lists, and where it may listen.

Every limit exists because an unbounded input was seen to stall or exhaust the server: ~150,000 labels
in one field kept it busy for minutes, a 64 MB text body took GBs of memory, a 300 MB upload was read
whole before being refused, a tiny FLAC declaring 30 minutes of audio was decoded to a GB-sized tensor.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from auralign.errors import AuralignError

MAX_LABELS = 1000
MAX_LABEL_CHARS = 200
MAX_TEXT_CHARS = 1000
MAX_TEXTS = 256
MAX_K = 1000


@dataclass(frozen=True)
class ServerLimits:
    """Per-server limits; `auralign serve` exposes the ones a user may want to change."""

    max_upload_bytes: int = 50 * 2**20
    max_body_bytes: int = 1 * 2**20  # any request that is not a multipart upload
    max_seconds: float = 600.0  # decoded audio duration of an upload
    cache_entries: int = 128  # uploaded clips whose frame tokens are kept (LRU)


class LimitError(AuralignError):
    """A request is over one of the server's limits (answered with 413)."""


def parse_labels(text: str) -> list[str]:
    """Comma- or newline-separated labels, stripped, blanks dropped; refuses over-long lists and labels.

    The count is checked on the raw separators first, so a field holding 150,000 labels is refused
    without building a 150,000-item list.
    """
    if len(re.findall(r"[,\n]", text)) >= MAX_LABELS * 4:
        raise AuralignError(f"at most {MAX_LABELS} labels per request")
    names = [name.strip() for name in re.split(r"[,\n]", text) if name.strip()]
    if len(names) > MAX_LABELS:
        raise AuralignError(f"at most {MAX_LABELS} labels per request, got {len(names)}")
    long = next((name for name in names if len(name) > MAX_LABEL_CHARS), None)
    if long is not None:
        raise AuralignError(f"labels are at most {MAX_LABEL_CHARS} characters (one has {len(long)})")
    if len(names) < 2:
        raise AuralignError("give at least two comma-separated labels")
    if len(set(names)) != len(names):
        raise AuralignError("labels must be distinct")
    return names


def check_top_k(top_k: int, n_labels: int) -> None:
    if not 1 <= top_k <= n_labels:
        raise AuralignError(f"top_k must be between 1 and the number of labels ({n_labels}), got {top_k}")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None, insecure: bool) -> None:
    """Refuse to listen beyond this machine without a token, unless the user says so explicitly."""
    if not is_loopback(host) and not token and not insecure:
        raise AuralignError(f"refusing to listen on {host} without a token: pass --token (or set AURALIGN_TOKEN), "
                            "or --insecure to serve anyone who can reach this address")
