"""A CSV log written row by row during training (``losses.csv``, ``grad_stats.csv``)."""
import csv
from pathlib import Path


class CsvLog:
    """Rows with ``columns`` (the first is ``step``).  Resuming at step ``keep_until`` keeps
    the rows up to it and drops the later ones, so the file matches an uninterrupted run."""

    def __init__(self, path, columns, keep_until=0):
        path = Path(path)
        kept = []
        if keep_until and path.exists():
            with open(path) as f:
                kept = [r for r in csv.DictReader(f) if int(r["step"]) <= keep_until]
        self.file = open(path, "w", newline="")
        self.writer = csv.DictWriter(self.file, columns)
        self.writer.writeheader()
        self.writer.writerows(kept)
        self.last = kept[-1] if kept else None

    def append(self, row):
        self.writer.writerow(row)
        self.last = row

    def flush(self):
        """Write what was appended to disk (at each checkpoint: a resume keeps the rows up to it)."""
        self.file.flush()

    def close(self):
        self.file.close()
