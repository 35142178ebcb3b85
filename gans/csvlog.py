"""A CSV log written row by row during training (``losses.csv``, ``grad_stats.csv``)."""
import csv
import io
from pathlib import Path

from .checkpoint import write_atomically


class CsvLog:
    """Rows with ``columns`` (the first is ``step``).  Resuming at step ``keep_until`` keeps
    the complete rows up to it and drops the later ones (and a row cut short when the
    process was killed), so the file matches an uninterrupted run's byte for byte."""

    def __init__(self, path, columns, keep_until=0):
        path = Path(path)
        kept = _rows_up_to(path, columns, keep_until) if keep_until else []
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, columns)
        writer.writeheader()
        writer.writerows(kept)
        # the kept rows replace the file in one rename: a kill now cannot lose them
        write_atomically(path, lambda f: f.write(text.getvalue().encode()))
        self.file = open(path, "a", newline="")
        self.writer = csv.DictWriter(self.file, columns)
        self.last = kept[-1] if kept else None

    def append(self, row):
        self.writer.writerow(row)
        self.last = row

    def flush(self):
        """Write what was appended to disk (at each checkpoint: a resume keeps the rows up to it)."""
        self.file.flush()

    def close(self):
        self.file.close()


def _rows_up_to(path, columns, last_step):
    """The complete rows of ``path`` with step ≤ ``last_step``, in order."""
    if not path.exists():
        return []
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            complete = list(row) == list(columns) and None not in row.values() and row["step"].isdigit()
            if not complete or int(row["step"]) > last_step:
                break
            rows.append(row)
    return rows
