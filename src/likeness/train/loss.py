"""The SAEHD loss: DSSIM + MSE on the masked face, extra weight on eyes and mouth, mask loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _gaussian(size: int, sigma: float, device) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(3, 1, size, size).contiguous()


def dssim(a: torch.Tensor, b: torch.Tensor, *, kernel: int = 11) -> torch.Tensor:
    """(1 - SSIM) / 2 per batch, images Bx3xHxW in [0, 1]."""
    kernel = max(3, kernel | 1)
    w = _gaussian(kernel, 1.5 * kernel / 11, a.device)
    mu_a = F.conv2d(a, w, groups=3)
    mu_b = F.conv2d(b, w, groups=3)
    saa = F.conv2d(a * a, w, groups=3) - mu_a**2
    sbb = F.conv2d(b * b, w, groups=3) - mu_b**2
    sab = F.conv2d(a * b, w, groups=3) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    ssim = ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a**2 + mu_b**2 + c1) * (saa + sbb + c2))
    return ((1 - ssim) / 2).mean()


def face_loss(
    pred: torch.Tensor, pred_mask: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, eyes_mouth: torch.Tensor
) -> torch.Tensor:
    """Weights as in DeepFaceLab SAEHD: 10 DSSIM + 10 MSE on the face, 300 L1 on eyes/mouth, 10 mask MSE."""
    pred, pred_mask = pred.float(), pred_mask.float()
    res = target.shape[-1]
    p, t = pred * mask, target * mask
    loss = 10 * dssim(p, t, kernel=int(res / 11.6)) + 10 * F.mse_loss(p, t)
    loss = loss + 300 * torch.mean(torch.abs(pred * eyes_mouth - target * eyes_mouth))
    return loss + 10 * F.mse_loss(pred_mask, mask)
