"""In-process models (a GPU voice such as Chatterbox) loaded once per process and reused by every render in it.

A notebook renders many times and a batch worker many stories: loading a model of several GB each time
would cost tens of seconds. :func:`load_once` keeps each model by what identifies it (kind, weights,
device) and :func:`model_loads` says how many loads really happened, for batch summaries and tests.
:func:`gpu_turn` makes processes that share one GPU (a batch's warm kernels, two notebooks) take turns on it.
:func:`hub_unreachable` tells a load to use the local Hugging Face cache at once where the hub cannot be reached.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import threading
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from filelock import FileLock

from shortskit.errors import ConfigError

__all__ = ["GPU_LOCK_DIR", "forget_models", "gpu_turn", "hub_unreachable", "load_once", "model_loads", "torch_device"]

GPU_LOCK_DIR = "SHORTSKIT_GPU_LOCK_DIR"  # where the per-GPU lock files live (default: the system's temp folder)

T = TypeVar("T")

_MODELS: dict[tuple[str, Hashable], Any] = {}
_LOADS: Counter[str] = Counter()
_LOCK = threading.Lock()  # one load at a time: two renders asking together must not load twice


def load_once(kind: str, key: Hashable, loader: Callable[[], T]) -> T:
    """The model ``kind`` identified by ``key``, made by ``loader()`` the first time it is asked for."""
    with _LOCK:
        found = _MODELS.get((kind, key))
        if found is None:
            found = _MODELS[(kind, key)] = loader()
            _LOADS[kind] += 1
        return found


def model_loads() -> dict[str, int]:
    """How many times each kind of model was loaded in this process."""
    with _LOCK:
        return dict(_LOADS)


def forget_models(kind: str | None = None) -> None:
    """Drop the loaded models (of ``kind``, or all) so their memory can be freed; counts are kept."""
    with _LOCK:
        for k in [k for k in _MODELS if kind is None or k[0] == kind]:
            del _MODELS[k]


class _Turn:
    """One GPU's turn: held by this process while any of its threads works on the GPU, by one process at a time.

    Threads of one process share the turn (a picture and a voice of one render may overlap on the GPU, the way
    the scheduler plans); another process waits for the file lock until every one of them is done.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = FileLock(str(path), thread_local=False)
        self._users = 0
        self._lock = threading.Lock()  # this process's threads queue here while the first waits for the file

    def __enter__(self) -> None:
        with self._lock:
            if self._users == 0:
                self._file.acquire()
            self._users += 1

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                self._file.release()


_TURNS: dict[str, _Turn] = {}
_TURNS_LOCK = threading.Lock()  # not _LOCK: a loader running under _LOCK takes its turn


def _turn(device: str) -> _Turn:
    name = device if ":" in device else f"{device}:0"
    folder = Path(os.environ.get(GPU_LOCK_DIR) or tempfile.gettempdir())
    path = folder / f"shortskit-gpu-{name.replace(':', '-')}.lock"
    with _TURNS_LOCK:
        turn = _TURNS.get(str(path))
        if turn is None:
            turn = _TURNS[str(path)] = _Turn(path)
        return turn


@contextlib.contextmanager
def gpu_turn(device: str) -> Iterator[None]:
    """Hold ``device``'s turn (``"cuda"``, ``"cuda:1"``, ``"mps"``) while loading onto it or running on it.

    Processes sharing the GPU wait for each other (a lock file per device under ``$SHORTSKIT_GPU_LOCK_DIR`` or
    the temp folder); threads of this process share the turn. On the CPU there is nothing to share: no lock.
    """
    if device == "cpu":
        yield
        return
    with _turn(device):
        yield


def torch_device(choice: str, torch: Any, *, who: str) -> str:
    """``choice``, or for ``auto`` the best device ``torch`` sees: CUDA, then Apple's MPS, then the CPU.

    A device torch does not see is a :class:`ConfigError` naming ``who`` asked for it.
    """
    cuda = torch.cuda.is_available()
    mps_backend = getattr(torch.backends, "mps", None)
    mps = bool(mps_backend is not None and mps_backend.is_available())
    if choice == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if (choice.startswith("cuda") and not cuda) or (choice == "mps" and not mps):
        raise ConfigError(f"{who} device {choice!r}: torch sees no such device here; use auto or cpu")
    return choice


def hub_unreachable(timeout: float = 3.0) -> bool:
    """True where the Hugging Face hub cannot be reached now: its offline mode is on, or its host has no address
    or answers no connection within ``timeout`` seconds.

    A load then asks the local Hugging Face cache only, at once, rather than waiting out the hub client's half
    minute of retries before the same failure. Behind a proxy (``$HTTPS_PROXY``) it cannot tell, and says False.
    """
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return True
    proxies = urllib.request.getproxies()
    if proxies.get("https") or proxies.get("all"):
        return False
    endpoint = urllib.parse.urlsplit(constants.ENDPOINT)
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    try:
        socket.create_connection((endpoint.hostname or "", port), timeout=timeout).close()
    except OSError:
        return True
    return False
