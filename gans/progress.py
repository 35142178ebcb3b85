"""Progress bars for the long loops of every command: on a terminal (or as a widget in a
notebook), and silent where nobody watches (a pipe, a log file, the tests)."""


def progress(iterable, description, unit="it", total=None, enabled=None, **options):
    """``iterable`` wrapped in a tqdm bar (``None``: a bar to ``update`` by hand); ``enabled=None``
    shows it only on a terminal; ``options`` go to tqdm (``unit_scale=True`` for bytes)."""
    from tqdm.auto import tqdm
    return tqdm(iterable, desc=description, unit=unit, total=total, mininterval=0.5,
                disable=None if enabled is None else not enabled, **options)
