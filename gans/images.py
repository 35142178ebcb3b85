"""Image grids at native resolution, as ``torchvision.utils.make_grid`` and ``save_image``.

One pixel of an image is one pixel of the file: nothing is resampled, so a 28×28 digit is
28×28 pixels in the PNG.  The arguments and the arithmetic are torchvision's; the arrays
are NumPy's, and two things differ, both to suit NumPy, Pillow and matplotlib:

* the grid comes back channels-last (H×W×C), and grey images stay grey (H×W) where
  torchvision copies them into three channels; the pixel values are the same;
* a 3-d array is a batch of grey images N×H×W (torchvision reads C×H×W as one image).
"""
from pathlib import Path

import numpy as np

from .checkpoint import write_atomically

IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}


def as_batch(images):
    """``images`` as an N×H×W×C float64 array (C is 1 or 3), from N×H×W (grey), N×C×H×W
    (torchvision's layout, C = 1 or 3), N×H×W×C (C = 1 or 3), H×W (one grey image) or a
    list of equal images.  A 4-d array with 1 or 3 in both places is read as N×C×H×W."""
    images = np.asarray(images)
    if images.dtype == object or not (np.issubdtype(images.dtype, np.number) or images.dtype == bool):
        raise TypeError(f"images must be a numeric array, got dtype {images.dtype}")
    images = images.astype(np.float64)
    if images.ndim == 2:
        return images[None, :, :, None]
    if images.ndim == 3:
        return images[..., None]
    if images.ndim == 4 and images.shape[1] in (1, 3):
        return images.transpose(0, 2, 3, 1)
    if images.ndim == 4 and images.shape[3] in (1, 3):
        return images
    raise ValueError(f"images must be N×H×W, N×C×H×W or N×H×W×C with C = 1 or 3, got shape {images.shape}")


def make_grid(images, nrow=8, padding=2, normalize=False, value_range=None, pad_value=0, scale_each=False):
    """The images tiled ``nrow`` to a row, ``padding`` pixels of ``pad_value`` around each:
    an H×W array for grey images, H×W×3 for colour.

    A grid of N images of h×w, ``ncol = min(nrow, N)`` across and ``ceil(N / ncol)`` down, is
    ``padding + rows·(h + padding)`` by ``padding + ncol·(w + padding)``; image k sits at row
    ``k // ncol``, column ``k % ncol``.  ``normalize``: clip to ``value_range`` (low, high) —
    by default the batch's min and max, each image's own with ``scale_each`` — then map it to
    0..1: ``(x - low) / max(high - low, 1e-5)``; the padding is not normalised.  A single image
    comes back alone, without padding, as torchvision does.
    """
    batch = as_batch(images)
    if nrow < 1:
        raise ValueError(f"nrow must be at least 1, got {nrow}")
    if padding < 0:
        raise ValueError(f"padding must be 0 or more, got {padding}")
    if len(batch) == 0:
        raise ValueError("make_grid needs at least one image, got an empty batch")
    if normalize:
        batch = _normalized(batch, value_range, scale_each)
    n, h, w, channels = batch.shape
    if n == 1:
        return _squeezed(batch[0])
    ncol = min(nrow, n)
    rows = -(-n // ncol)
    grid = np.full((padding + rows * (h + padding), padding + ncol * (w + padding), channels), float(pad_value))
    for k, image in enumerate(batch):
        top = padding + (k // ncol) * (h + padding)
        left = padding + (k % ncol) * (w + padding)
        grid[top:top + h, left:left + w] = image
    return _squeezed(grid)


def _normalized(batch, value_range, scale_each):
    def stretch(x):
        low, high = value_range if value_range is not None else (x.min(), x.max())
        return (np.clip(x, low, high) - low) / max(high - low, 1e-5)
    if scale_each:
        return np.stack([stretch(image) for image in batch])
    return stretch(batch)


def _squeezed(image):
    """H×W×1 → H×W: a grey picture stays one channel."""
    return image[..., 0] if image.shape[-1] == 1 else image


def to_uint8(grid):
    """Values in 0..1 as bytes, rounded as torchvision's ``save_image``: ``x·255 + 0.5``, clipped
    to 0..255, truncated."""
    return np.clip(np.asarray(grid, dtype=np.float64) * 255 + 0.5, 0, 255).astype(np.uint8)


def image_format(path):
    """Pillow's format name for ``path``'s suffix (.png, .jpg, .jpeg, in any case);
    ValueError naming the suffix and the choices for any other."""
    suffix = Path(path).suffix.lower()
    if suffix not in IMAGE_FORMATS:
        raise ValueError(f"{path}: {suffix or 'no suffix'} is not an image format this writes; "
                         f"use {', '.join(IMAGE_FORMATS)}")
    return IMAGE_FORMATS[suffix]


def save_image(images, path, **grid_options):
    """Write ``make_grid(images, **grid_options)`` to ``path`` at native size (PNG or JPEG by
    the suffix), one image pixel to one file pixel, bytes as :func:`to_uint8` rounds them.

    JPEG is written at quality 95: at Pillow's default (75) the sharp edges of small digits ring.
    """
    from PIL import Image

    file_format = image_format(path)
    picture = Image.fromarray(to_uint8(make_grid(images, **grid_options)))
    options = {"quality": 95} if file_format == "JPEG" else {}
    write_atomically(path, lambda f: picture.save(f, format=file_format, **options))
