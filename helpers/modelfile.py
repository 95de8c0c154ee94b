"""Safe model files: written whole or not at all, read without running code, and refused
with one ``ModelFileError`` (naming the file and the problem) whatever is wrong with them.

Every model the book saves or ships is a *payload* written with ``torch.save``:

    {"format": ..., "config_sha256": ..., "weights_sha256": ..., "state_dict": {...}}

plus, when the settings live in the same file, ``"config"`` (plain JSON-ready data). The
fingerprint ``config_sha256`` ties the weights to their settings, wherever those are kept
(the word autocomplete keeps them beside the weights in ``config.json``); the checksum
``weights_sha256`` covers every tensor's name, dtype, shape and bytes. ``read_payload``
loads with ``torch.load(..., weights_only=True)`` and refuses, each with its own message:
a missing, empty, truncated or damaged file; a pickle of anything but tensors and plain
data (loading it could run code); a bare state dict or another format; tensors that do not
match their checksum; settings that do not match their fingerprint; NaN or infinite weights.

``write_file`` replaces one file atomically; ``replace_together`` replaces several files in
one folder so that a failure at any point leaves the previous save loadable.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import torch
from torch import Tensor, nn

Writer = Callable[[IO[bytes]], Any]  # writes a file's content into an open binary file
PAYLOAD_KEYS = frozenset({"format", "config_sha256", "weights_sha256", "state_dict"})


class ModelFileError(ValueError):
    """A saved model that cannot be loaded: missing, damaged, tampered with, or not one at
    all. The message names the file and what is wrong with it."""


class ModelFileMissing(ModelFileError, FileNotFoundError):
    """A model file that is not there (also a FileNotFoundError, as Python's own)."""


# ---------------------------------------------------------------- what is checked


def as_path(value: object, what: str) -> Path:
    """``value`` as a Path; a TypeError if it is not a string or a path."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{what} must be a path (a string or a Path), got {type(value).__name__}: {value!r}")
    return Path(value)


def check_finite(weights: nn.Module | Mapping[str, Tensor], doing: str) -> None:
    """Refuse weights that hold NaN or infinity, naming every such tensor: a ValueError
    ``"<doing>: its weights contain NaN or infinity (<names>)"``. ``weights`` is a model
    (its parameters are checked) or a state dict. This reads the weights themselves, so it
    does not rely on a kernel passing a NaN through (0 * NaN, say, at a first step from a
    zero state)."""
    named = weights.named_parameters() if isinstance(weights, nn.Module) else weights.items()
    broken = [name for name, t in named if t.is_floating_point() and not torch.isfinite(t).all()]
    if broken:
        raise ValueError(f"{doing}: its weights contain NaN or infinity ({', '.join(broken)})")


def fingerprint(config: Mapping[str, Any]) -> str:
    """SHA-256 of a config's content, independent of key order and spacing."""
    text = json.dumps(config, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def checksum(state: Mapping[str, Tensor]) -> str:
    """SHA-256 of every tensor's name, dtype, shape and bytes."""
    digest = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.flatten().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def pack(format: str, state: Mapping[str, Tensor], config: Mapping[str, Any], embed: bool = False) -> dict[str, Any]:
    """The payload for ``state`` and its ``config`` (inside it if ``embed``; otherwise only
    its fingerprint, the config being kept elsewhere). Refuses weights that are not finite."""
    state = {name: t.detach().cpu().clone() for name, t in state.items()}
    check_finite(state, "cannot save this model")
    payload = {"format": format, "config_sha256": fingerprint(config), "weights_sha256": checksum(state), "state_dict": state}
    return {**payload, "config": dict(config)} if embed else payload


# ---------------------------------------------------------------- writing


def write_file(path: str | os.PathLike[str], write: Writer | bytes) -> Path:
    """Write one file atomically: into a temporary file beside it, flushed to disk, then
    renamed over ``path`` (its folder created if needed). A failure leaves the old file as it
    was and no temporary behind. ``write`` is the content, or a function that writes it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return replace_together(path.parent, {path.name: write}) / path.name


def save_payload(path: str | os.PathLike[str], payload: Mapping[str, Any]) -> Path:
    """Write a payload made by ``pack`` atomically with ``torch.save``."""
    return write_file(path, lambda f: torch.save(dict(payload), f))


def previous_path(path: Path) -> Path:
    """Where ``replace_together`` keeps a file's last version while a save is under way."""
    return path.with_name(f".{path.name}.previous")


def replace_together(folder: Path, files: Mapping[str, Writer | bytes]) -> Path:
    """Write ``files`` (name -> content) into ``folder`` so that a failure at any point
    leaves a loadable save: all are written to temporary files first, then renamed into
    place in order. While the others are renamed, the first file's last version is kept as
    ``previous_path`` (a reader whose files disagree can fall back on it), and put back if a
    later rename fails. Returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    names = list(files)
    first, keep = folder / names[0], previous_path(folder / names[0])
    temporary: list[Path] = []
    try:
        written = [_write_temporary(folder, name, files[name], temporary) for name in names]
        keep.unlink(missing_ok=True)
        if len(names) > 1 and first.is_file():
            _link_or_copy(first, keep)
        os.replace(written[0], first)
        try:
            for name, new in zip(names[1:], written[1:]):
                os.replace(new, folder / name)
        except BaseException:
            if keep.is_file():
                os.replace(keep, first)
            raise
        _sync_folder(folder)
    finally:
        for path in temporary:
            path.unlink(missing_ok=True)
    keep.unlink(missing_ok=True)
    return folder


def _write_temporary(folder: Path, name: str, write: Writer | bytes, created: list[Path]) -> Path:
    """A new temporary file in ``folder`` holding the content, flushed to disk."""
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    created.append(Path(temporary))
    with os.fdopen(handle, "wb") as file:
        if isinstance(write, bytes):
            file.write(write)
        else:
            write(file)
        file.flush()
        os.fsync(file.fileno())
    return Path(temporary)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # a file system without hard links
        target.write_bytes(source.read_bytes())


def _sync_folder(folder: Path) -> None:
    """Make the renames durable where the system allows it (POSIX)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


# ---------------------------------------------------------------- reading


def read_json(path: Path, writer: str) -> dict[str, Any]:
    """A JSON object from a UTF-8 file; a ModelFileError says what is wrong."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ModelFileError(f"{path} is not a config written by {writer}: it is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise ModelFileError(f"{path} is not valid JSON ({error})") from None
    except OSError as error:
        raise ModelFileError(f"{path} cannot be read: {error.strerror or error}") from None
    if not isinstance(config, dict):
        raise ModelFileError(f"{path} should hold a JSON object, got {type(config).__name__}")
    return config


def read_payload(path: Path, format: str, writer: str, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The payload in ``path``, checked from its format to its last weight; ``writer``
    (``"Autocomplete.save"``) names what writes such files. With ``config``, the payload's
    fingerprint must be that config's (a mismatch raises ``ConfigMismatch``, a
    ModelFileError); without it, the payload must embed its config, which must match it."""
    if not path.is_file():
        raise ModelFileMissing(f"{path} not found: it is not a file written by {writer}")
    try:
        payload = torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError:
        # torch's own message suggests weights_only=False, which would run the file's code
        raise ModelFileError(
            f"{path} holds objects other than tensors and plain data: refused, since loading it could run code"
        ) from None
    except Exception as error:  # truncated, empty, not a zip archive, unreadable ...
        raise ModelFileError(
            f"{path} is not a weights file written by {writer}: torch cannot read it "
            f"({type(error).__name__}); it may be truncated or damaged"
        ) from None
    if isinstance(payload, dict) and payload and all(isinstance(v, Tensor) for v in payload.values()):
        raise ModelFileError(
            f"{path} is a bare state dict without the fingerprint that ties it to its config "
            "(saved by an older version of helpers?): load the model by hand and save it again"
        )
    keys = PAYLOAD_KEYS if config is not None else PAYLOAD_KEYS | {"config"}
    if not isinstance(payload, dict) or set(payload) != keys or payload["format"] != format:
        raise ModelFileError(f"{path} is not a weights file written by {writer}")
    state = payload["state_dict"]
    if not (isinstance(state, dict) and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items())):
        raise ModelFileError(f"{path} is not a weights file written by {writer}: no state dict")
    if checksum(state) != payload["weights_sha256"]:
        raise ModelFileError(f"{path} is damaged: its tensors do not match the checksum saved with them")
    if config is None and (not isinstance(payload["config"], dict) or fingerprint(payload["config"]) != payload["config_sha256"]):
        raise ModelFileError(f"{path} is damaged: its settings do not match the fingerprint saved with them")
    if config is not None and fingerprint(config) != payload["config_sha256"]:
        raise ConfigMismatch(f"{path} was saved with another config")
    try:
        check_finite(state, "refused")
    except ValueError as error:
        raise ModelFileError(f"{path}: {error}") from None
    return payload


class ConfigMismatch(ModelFileError):
    """Weights whose fingerprint is not that of the config they were read with."""
