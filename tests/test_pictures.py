"""The pictures: image grids as torchvision makes them, files at native size, gans generate's
outputs (PNG, JPEG, .npy that gans eval reads), the loss charts and the appendix figures."""
import csv
import importlib.util

import numpy as np
import pytest
from PIL import Image

from gans import appendix, cli, experiments, plots
from gans.images import make_grid, save_image, to_uint8


# --- make_grid ---------------------------------------------------------------------------------

def numbered(n, h=2, w=3):
    """N grey images, image k filled with the value k + 1: where each lands is plain to see."""
    return np.arange(1, n + 1, dtype=np.float64)[:, None, None] * np.ones((n, h, w))


def test_grid_by_hand():
    grid = make_grid(np.array([[[0.2]], [[0.8]]]), nrow=2, padding=1, pad_value=0.5)
    np.testing.assert_array_equal(grid, [[0.5, 0.5, 0.5, 0.5, 0.5],
                                         [0.5, 0.2, 0.5, 0.8, 0.5],
                                         [0.5, 0.5, 0.5, 0.5, 0.5]])


@pytest.mark.parametrize("n, nrow, padding", [(5, 2, 1), (7, 3, 2), (3, 8, 2), (4, 1, 0), (64, 8, 2)])
def test_grid_places_image_k_at_row_k_div_ncol_and_column_k_mod_ncol(n, nrow, padding):
    h, w, pad_value = 2, 3, -1.0
    grid = make_grid(numbered(n, h, w), nrow=nrow, padding=padding, pad_value=pad_value)
    ncol = min(nrow, n)
    rows = -(-n // ncol)
    assert grid.shape == (padding + rows * (h + padding), padding + ncol * (w + padding))
    expected = np.full(grid.shape, pad_value)
    for k in range(n):
        top, left = padding + (k // ncol) * (h + padding), padding + (k % ncol) * (w + padding)
        expected[top:top + h, left:left + w] = k + 1
    np.testing.assert_array_equal(grid, expected)  # the padding, and any empty places, are pad_value


def test_grid_layouts_of_colour_images_agree():
    rng = np.random.default_rng(0)
    channels_first = rng.random((5, 3, 4, 6))
    grid = make_grid(channels_first, nrow=3)
    assert grid.shape == (2 + 2 * 6, 2 + 3 * 8, 3)
    np.testing.assert_array_equal(make_grid(channels_first.transpose(0, 2, 3, 1), nrow=3), grid)
    np.testing.assert_array_equal(grid[2:6, 10:16], channels_first[1].transpose(1, 2, 0))
    grey = rng.random((5, 1, 4, 6))
    np.testing.assert_array_equal(make_grid(grey), make_grid(grey[:, 0]))  # N×1×H×W is N×H×W


def test_normalize_stretches_the_batch_and_leaves_the_padding():
    images = np.array([[[-2.0, 0.0]], [[1.0, 2.0]]])  # two 1×2 images
    grid = make_grid(images, nrow=2, padding=1, normalize=True, pad_value=7)
    np.testing.assert_array_equal(grid[1, 1:3], [0.0, 0.5])
    np.testing.assert_array_equal(grid[1, 4:6], [0.75, 1.0])
    assert grid[0, 0] == grid[1, 3] == 7
    clipped = make_grid(images, nrow=2, padding=0, normalize=True, value_range=(0, 1))
    np.testing.assert_array_equal(clipped, [[0, 0, 1, 1]])
    each = make_grid(images, nrow=2, padding=0, normalize=True, scale_each=True)
    np.testing.assert_array_equal(each, [[0, 1, 0, 1]])
    np.testing.assert_array_equal(make_grid(np.full((2, 1, 1), 3.0), padding=0, normalize=True), [[0, 0]])


def test_one_image_comes_back_alone_as_torchvision_does():
    image = np.arange(6.0).reshape(1, 2, 3)
    np.testing.assert_array_equal(make_grid(image, padding=5), image[0])


def test_grid_errors_say_what_came_in():
    with pytest.raises(ValueError, match=r"got shape \(2, 5, 5, 5\)"):
        make_grid(np.zeros((2, 5, 5, 5)))
    with pytest.raises(ValueError, match="nrow must be at least 1, got 0"):
        make_grid(np.zeros((2, 3, 3)), nrow=0)
    with pytest.raises(ValueError, match="empty"):
        make_grid(np.zeros((0, 3, 3)))


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is None, reason="torchvision is not installed")
@pytest.mark.parametrize("channels", [1, 3])
def test_grid_matches_torchvision(channels):
    import torch
    from torchvision.utils import make_grid as torchvision_grid
    rng = np.random.default_rng(channels)
    images = rng.normal(size=(11, channels, 5, 4))
    for options in (dict(), dict(nrow=3, padding=1, pad_value=0.3), dict(normalize=True),
                    dict(nrow=4, normalize=True, value_range=(-1, 1)), dict(normalize=True, scale_each=True)):
        expected = torchvision_grid(torch.tensor(images), **options).numpy().transpose(1, 2, 0)
        if channels == 1:
            expected = expected[..., 0]
        np.testing.assert_allclose(make_grid(images, **options), expected, rtol=1e-12, atol=1e-12)


# --- files at native size ------------------------------------------------------------------------

def test_png_has_one_file_pixel_per_image_pixel(tmp_path):
    images = np.array([[[0.2, 0.8, 1.5]], [[0.0, -0.3, 0.5]]])  # two 1×3 images
    save_image(images, tmp_path / "g.png", nrow=2, padding=1, pad_value=0.5)
    with Image.open(tmp_path / "g.png") as picture:
        assert picture.format == "PNG" and picture.mode == "L" and picture.size == (9, 3)  # width, height
        pixels = np.asarray(picture)
    # x·255 + 0.5, clipped, truncated: 0.2 → 51, 0.8 → 204, 0.5 → 128, out of range → 0 or 255
    np.testing.assert_array_equal(pixels, [[128] * 9,
                                           [128, 51, 204, 255, 128, 0, 0, 128, 128],
                                           [128] * 9])
    np.testing.assert_array_equal(pixels, to_uint8(make_grid(images, nrow=2, padding=1, pad_value=0.5)))


def test_colour_png_and_jpeg(tmp_path):
    images = np.zeros((4, 3, 8, 8))
    images[:, 0] = 1.0  # red squares
    save_image(images, tmp_path / "c.png", nrow=2)
    with Image.open(tmp_path / "c.png") as picture:
        assert picture.mode == "RGB" and picture.size == (22, 22)
        assert picture.getpixel((2, 2)) == (255, 0, 0) and picture.getpixel((0, 0)) == (0, 0, 0)
    save_image(images, tmp_path / "c.JPEG", nrow=2)
    with Image.open(tmp_path / "c.JPEG") as picture:
        assert picture.format == "JPEG" and picture.size == (22, 22)
        red, green, blue = picture.getpixel((5, 5))
        assert red > 200 and green < 60 and blue < 60


def test_other_suffixes_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"\.gif is not an image format this writes; use \.png, \.jpg, \.jpeg"):
        save_image(np.zeros((2, 3, 3)), tmp_path / "g.gif")
    assert not list(tmp_path.iterdir())


# --- gans generate -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Tiny trained runs of the MNIST GAN and the conditional GAN, made by the CLI."""
    folder = tmp_path_factory.mktemp("runs")
    for name in ("mnist-gan", "mnist-cgan"):
        assert cli.main(["train", name, "--limit", "50", "--epochs", "1", "--out", str(folder / name), "--quiet",
                         "--eval-samples", "0"]) == 0
    return folder


def test_generate_writes_an_8_by_8_grid_at_native_size(runs, tmp_path, capsys):
    run = str(runs / "mnist-gan")
    assert cli.main(["generate", run, "--n", "64", "--nrow", "8", "--out", str(tmp_path / "g.png")]) == 0
    assert "g.png" in capsys.readouterr().out
    assert cli.main(["generate", run, "--n", "64", "--out", str(tmp_path / "g.npy")]) == 0  # same seeds
    images = np.load(tmp_path / "g.npy")
    assert images.shape == (64, 28, 28)
    with Image.open(tmp_path / "g.png") as picture:
        assert picture.size == (2 + 8 * 30, 2 + 8 * 30) and picture.mode == "L"
        pixels = np.asarray(picture)
    np.testing.assert_array_equal(pixels, to_uint8(make_grid(images, nrow=8, padding=2, pad_value=1)))
    assert (pixels[:2] == 255).all() and (pixels[:, 30:32] == 255).all()  # white lines between the digits
    with Image.open(tmp_path / "g-figure.png") as figure:
        assert figure.size[0] > 242  # the titled matplotlib picture, beside the grid
    assert not (tmp_path / "g-figure.npy").exists()


def test_generate_grid_options(runs, tmp_path):
    run = str(runs / "mnist-gan")
    assert cli.main(["generate", run, "--n", "5", "--nrow", "2", "--padding", "0", "--normalize",
                     "--out", str(tmp_path / "g.png")]) == 0
    with Image.open(tmp_path / "g.png") as picture:
        assert picture.size == (2 * 28, 3 * 28)
        pixels = np.asarray(picture)
    digits = np.concatenate([pixels[:56].ravel(), pixels[56:, :28].ravel()])
    assert digits.min() == 0 and digits.max() == 255  # normalised: the darkest black, the lightest white
    assert (pixels[56:, 28:] == 255).all()  # the sixth place is empty: pad value, white


def test_generate_npy_is_what_gans_eval_reads(runs, tmp_path, capsys):
    out = tmp_path / "samples.npy"
    assert cli.main(["generate", str(runs / "mnist-gan"), "--n", "8", "--out", str(out)]) == 0
    images = np.load(out, allow_pickle=False)
    assert images.shape == (8, 28, 28) and np.issubdtype(images.dtype, np.floating)
    assert 0 <= images.min() and images.max() <= 1
    capsys.readouterr()
    assert cli.main(["eval", "--images", str(out), "--engine", "minigrad"]) == 0
    report = capsys.readouterr().out
    assert f"{out}: 8 images" in report and "mode_coverage" in report


def test_generate_writes_jpeg(runs, tmp_path):
    assert cli.main(["generate", str(runs / "mnist-gan"), "--out", str(tmp_path / "g.jpg")]) == 0
    with Image.open(tmp_path / "g.jpg") as picture:
        assert picture.format == "JPEG" and picture.size == (2 + 8 * 30, 2 + 2 * 30)  # 16 samples, 8 a row
    assert (tmp_path / "g-figure.png").is_file()


@pytest.mark.parametrize("args, message", [
    (["--out", "{tmp}/g.gif"], "--out {tmp}/g.gif: cannot write .gif; use .png, .jpg, .jpeg, .npy"),
    (["--out", "{tmp}/g"], "--out {tmp}/g: cannot write a file without a suffix; use .png, .jpg, .jpeg, .npy"),
    (["--n", "0", "--out", "{tmp}/g.png"], "--n must be at least 1, got 0"),
    (["--label", "10", "--out", "{tmp}/g.png"], "--label must be a digit 0..9, got 10"),
    (["--label", "-1", "--interpolate", "--out", "{tmp}/g.png"], "--label must be a digit 0..9, got -1"),
    (["--nrow", "0", "--out", "{tmp}/g.png"], "--nrow must be at least 1, got 0"),
])
def test_generate_refuses_bad_options_in_one_line(runs, tmp_path, capsys, args, message):
    args = [a.format(tmp=tmp_path) for a in args]
    assert cli.main(["generate", str(runs / "mnist-cgan")] + args) == 2
    assert capsys.readouterr().err == f"gans generate: error: {message.format(tmp=tmp_path)}\n"
    assert not list(tmp_path.iterdir())


def test_interpolation_keeps_one_label(runs, tmp_path, capsys):
    from gans.generate import generate
    made = generate(runs / "mnist-cgan", tmp_path / "i.png", interpolate=True)
    assert made.digits == [0] * 12 and made.title.endswith("label 0")
    made = generate(runs / "mnist-cgan", tmp_path / "i.png", interpolate=True, label=7)
    assert made.digits == [7] * 12
    assert len(set(generate(runs / "mnist-cgan", tmp_path / "r.png", n=12).digits)) > 1  # samples: random
    assert cli.main(["generate", str(runs / "mnist-cgan"), "--interpolate", "--label", "3",
                     "--out", str(tmp_path / "i.png")]) == 0
    assert capsys.readouterr().out.strip().endswith("interpolating from seed 1 to seed 2, label 3")
    with Image.open(tmp_path / "i.png") as picture:
        assert picture.size == (2 + 4 * 30, 2 + 3 * 30)  # the book's 3 rows of 4


# --- the loss charts -----------------------------------------------------------------------------

def write_losses(path, columns, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step"] + columns)
        writer.writerows(rows)


def test_moving_average_by_hand():
    np.testing.assert_array_equal(plots.moving_average([1, 2, 3, 4, 5], 2), [1.5, 2.5, 3.5, 4.5])
    np.testing.assert_array_equal(plots.moving_average([1, 2, 3], 1), [1, 2, 3])
    np.testing.assert_array_equal(plots.moving_average([1, 2, 3], 10), [2])


def test_gan_losses_get_three_charts_that_show_their_data(tmp_path):
    rng = np.random.default_rng(0)
    n = 300
    data = {"d_real": rng.random(n) * 0.3, "d_fake": 0.1 + rng.random(n) * 0.5, "g": 3 + 4 * rng.random(n),
            "D(x)": 0.8 + 0.2 * rng.random(n), "D(G(z))": 0.1 * rng.random(n)}
    write_losses(tmp_path / "losses.csv", list(data), zip(range(10, 10 * n + 1, 10), *data.values()))
    fig = plots.loss_figure(tmp_path / "losses.csv", "mnist-gan", "minigrad")
    charts = fig.axes
    assert len(charts) == 3
    assert [ax.get_ylabel() for ax in charts] == ["D's loss", "G's loss", "D's output (1: real)"]
    assert "mnist-gan [minigrad]" in fig._suptitle.get_text()
    for ax, columns in zip(charts, [("d_real", "d_fake"), ("g",), ("D(x)", "D(G(z))")]):
        low, high = ax.get_ylim()
        values = np.concatenate([data[c] for c in columns])
        assert low <= values.min() and values.max() <= high
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert all(any(t.startswith(c) for t in legend) for c in columns)
        smoothed = [line for line in ax.get_lines() if line.get_linestyle() == "-"]
        assert len(smoothed) == len(columns) and len(smoothed[0].get_xdata()) == n - n // 25 + 1
    low, high = charts[1].get_ylim()  # G's loss scaled to its own data, not to D's
    assert 2 < low < 3 and 7 < high < 8
    assert charts[0].get_ylim()[1] < 1
    plots.plt.close(fig)


def test_losses_with_rare_spikes_get_a_log_axis(tmp_path):
    rng = np.random.default_rng(2)
    n = 400
    d_real = 10.0 ** rng.uniform(-4, -1, n)
    d_real[::50] = 5.0  # a discriminator usually sure, now and then badly wrong
    data = {"d_real": d_real, "d_fake": 10.0 ** rng.uniform(-4, -1, n), "g": 3 + 4 * rng.random(n),
            "D(x)": rng.random(n), "D(G(z))": rng.random(n)}
    write_losses(tmp_path / "losses.csv", list(data), zip(range(1, n + 1), *data.values()))
    fig = plots.loss_figure(tmp_path / "losses.csv", "mnist-gan", "torch")
    assert [ax.get_yscale() for ax in fig.axes] == ["log", "linear", "linear"]
    assert fig.axes[0].get_ylabel() == "D's loss (log scale)"
    line = next(line for line in fig.axes[0].get_lines() if line.get_linestyle() == "-")  # d_real's
    np.testing.assert_allclose(line.get_ydata(), np.exp(plots.moving_average(np.log(d_real), n // 25)))
    low, high = fig.axes[0].get_ylim()
    assert low <= min(data["d_real"].min(), data["d_fake"].min()) and 5 <= high
    assert plots.loss_scale([0.0, 0.01, 5]) == "linear"  # a zero has no place on a log axis
    plots.plt.close(fig)


def test_classifier_loss_chart_scales_to_its_data(tmp_path):
    loss = 0.02 + 0.01 * np.random.default_rng(1).random(100)
    write_losses(tmp_path / "losses.csv", ["loss"], zip(range(10, 1001, 10), loss))
    fig = plots.loss_figure(tmp_path / "losses.csv", "classifier", "torch")
    (ax,) = fig.axes
    low, high = ax.get_ylim()
    assert low <= loss.min() and loss.max() <= high and high < 0.05
    assert ax.get_title(loc="left") == "the classifier's loss" and "[torch]" in fig._suptitle.get_text()
    plots.plt.close(fig)


def test_loss_chart_of_a_run_without_rows(tmp_path):
    write_losses(tmp_path / "losses.csv", ["loss"], [])
    plots.losses(tmp_path / "loss.png", tmp_path / "losses.csv", "classifier", "minigrad")
    assert (tmp_path / "loss.png").stat().st_size > 0


# --- appendices and the class histogram ------------------------------------------------------------

def test_appendix_b_grids_have_colour_bars():
    probabilities, book_drawn = appendix.book_grid_samples(24)
    grid = np.random.default_rng(0).random((28, 28))
    fig = appendix.appendix_b_figure(probabilities, book_drawn, grid, (grid > 0.5) * 1.0, digit=3)
    grids = [ax for ax in fig.axes if ax.get_title().startswith(("the book's P", "P(pixel dark)"))]
    assert len(grids) == 2
    for ax in grids:
        colour_bar = ax.images[0].colorbar
        assert colour_bar is not None and colour_bar.ax.get_ylabel() == "P(pixel dark)"
        assert colour_bar.mappable.get_clim() == (0, 1)
    plots.plt.close(fig)


def test_appendix_d_legends_cover_no_point_of_the_path():
    fig = appendix.appendix_d_figure(appendix.adversarial_gradient_descent())
    fig.canvas.draw()
    for ax in fig.axes:
        box = ax.get_legend().get_window_extent()
        for line in ax.get_lines():
            points = ax.transData.transform(np.column_stack([line.get_xdata(), line.get_ydata()]))
            inside = (points[:, 0] >= box.x0) & (points[:, 0] <= box.x1) & (points[:, 1] >= box.y0) & \
                     (points[:, 1] <= box.y1)
            assert not inside.any(), f"{ax.get_title()}: the legend covers {inside.sum()} points of {line.get_label()}"
    plots.plt.close(fig)


def test_the_class_histogram_beside_ten_rows_of_digits_keeps_its_shape(monkeypatch, tmp_path):
    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig))
    labels = [experiments.one_hot(k) for k in range(10) for _ in range(6)]
    plots.samples(tmp_path / "s.png", experiments.get("mnist-cgan"), np.zeros((60, 28, 28)), labels,
                  histogram=[200] * 10)
    (fig,) = figures
    fig.canvas.draw()
    (bars,) = [ax for ax in fig.axes if ax.get_title().startswith("classes of")]
    box = bars.get_window_extent()
    assert 0.5 < box.height / box.width < 1.2
    plots.plt.close(fig)
