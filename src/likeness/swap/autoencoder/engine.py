"""The ``autoencoder`` engine: a trained DF model paints the identity in the target's aligned crop.

The target face is aligned at the model resolution exactly as in training, encoded, and decoded
by the source decoder; the predicted mask is combined with the landmark hull and the result is
warped back into a crop of the frame. Colour transfer, blending and temporal smoothing are the
swap package's compositing, applied by whoever composites the returned Patch (the pipeline).
"""

from __future__ import annotations

import io
from typing import Any

import cv2
import numpy as np
import torch

from likeness.errors import ConsentError, InputError, VaultError
from likeness.faces import align
from likeness.faces.types import Face, Image
from likeness.swap.autoencoder.device import resolve_device
from likeness.swap.autoencoder.masks import face_mask
from likeness.swap.autoencoder.model import DFModel, ModelConfig
from likeness.swap.engine import Patch
from likeness.swap.paste import paste_square

ALIGN_PADDING = 0.25  # must match training (likeness.train.target) and the vault's faceset crops


def load_model(payload: bytes, *, device: torch.device) -> DFModel:
    """A DF model from checkpoint bytes; ``weights_only`` so a stored blob can never run code."""
    try:
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
        cfg = ModelConfig(**{k: int(v) for k, v in state["config"].items()})
        model = DFModel(cfg)
        model.load_state_dict(state["model"])
    except Exception as exc:  # noqa: BLE001 - any failure here means a damaged or foreign blob
        raise VaultError(f"stored model cannot be loaded ({type(exc).__name__}: {exc})") from None
    return model.to(device).eval()


class AutoencoderEngine:
    """Swaps with a model trained by ``likeness train``; the model must belong to the faceset's identity."""

    name = "autoencoder"

    def __init__(self, *, vault: Any = None, model: str | None = None, payload: bytes | None = None,
                 meta: dict | None = None, device: str = "auto", mask_erode: float = 0.04, feather: float = 0.05) -> None:
        self.vault = vault
        self.model_id = model
        self._payload, self._meta = payload, meta
        self.device = resolve_device(device)
        self.mask_erode, self.feather = mask_erode, feather
        self.net: DFModel | None = None
        self.meta: dict = {}

    def describe(self) -> str:
        if self.net is None:
            return "autoencoder (not prepared)"
        r = self.net.cfg.resolution
        return f"autoencoder model {self.model_id or '(in memory)'} {r}px, {self.meta.get('iterations', '?')} iterations, on {self.device.type}"

    def prepare(self, faceset: Any) -> None:
        """Load the identity's model from the vault: ``model`` if given, else its latest one."""
        payload, meta = self.model_payload(faceset)
        self.meta = meta
        self.net = load_model(payload, device=self.device)

    def model_payload(self, faceset: Any) -> tuple[bytes, dict]:
        """The checkpoint and meta :meth:`prepare` loads (checked: the faceset's identity's, under a
        grant not revoked), without loading it: a cluster driver seals them for its workers."""
        identity = getattr(faceset, "identity", None)
        payload, meta = self._payload, self._meta or {}
        if payload is None:
            vault = self.vault
            if vault is None:
                raise InputError("the autoencoder engine needs the open vault (make_engine('autoencoder', vault=...))")
            if self.model_id is None:
                if identity is None:
                    raise InputError("the autoencoder engine needs model= or a faceset that names its identity")
                models = vault.list_models(identity)
                if not models:
                    raise InputError(f"no trained model for {identity!r} in the vault: run `likeness train {identity} ...` first")
                self.model_id = models[-1].id
            payload, meta = vault.get_model(self.model_id)
            _refuse_if_grant_revoked(vault, self.model_id, meta)
        owner = meta.get("identity")
        if identity is not None and owner is not None and owner != identity:
            raise InputError(f"model {self.model_id} was trained for {owner!r}, not {identity!r}")
        return payload, meta

    @torch.no_grad()
    def swap(self, frame: Image, face: Face) -> Patch:
        if self.net is None:
            raise InputError("the autoencoder engine was not prepared with a faceset")
        r = self.net.cfg.resolution
        aligned = align(frame, face, size=r, padding=float(self.meta.get("padding", ALIGN_PADDING)))
        x = torch.from_numpy(aligned.image.astype(np.float32) / 255.0).permute(2, 0, 1)[None].to(self.device)
        rgb, _mask_src, mask_dst = self.net.swap(x)
        swapped = (rgb[0].float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)
        # The dst decoder's mask follows the target's outline (what gets replaced); the landmark hull
        # bounds it, so a mask artefact can never paint outside the face.
        learned = mask_dst[0, 0].float().cpu().numpy()
        hull = face_mask(aligned.landmarks, r)
        erode = max(1, int(self.mask_erode * r))
        hull = cv2.erode(hull, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode + 1, 2 * erode + 1)))
        # A sigmoid mask rarely reaches 1 inside the face: read >= 0.7 as "face", <= 0.2 as "not".
        square = hull * np.clip((learned - 0.2) / 0.5, 0, 1)
        square = cv2.GaussianBlur(square, (0, 0), max(self.feather * r, 1.0)) * hull
        return paste_square(frame, swapped, square, aligned.inverse, face, interpolation=cv2.INTER_CUBIC)


def _refuse_if_grant_revoked(vault: Any, model_id: str, meta: dict) -> None:
    """A model made under a grant the talent has since revoked is not used, whatever the render grant."""
    grant_id = meta.get("grant_id")
    record = vault.grant_record(grant_id) if grant_id and hasattr(vault, "grant_record") else None
    if record is not None and record.revocation is not None:
        raise ConsentError(f"model {model_id} was trained under grant {grant_id}, which the talent has revoked; "
                           "it is not used (delete it with `likeness model delete`)")


def make_autoencoder_engine(**options: Any) -> AutoencoderEngine:
    """Factory for the swap registry: options ``vault``, ``model`` (id), ``payload``/``meta``, ``device``."""
    return AutoencoderEngine(**options)
