"""``python -m benchmarks.table RESULTS.json``: the README's table from a saved benchmark run."""
import json
import sys

from .harness import markdown_table

if __name__ == "__main__":
    document = json.load(open(sys.argv[1]))
    machine = document["machine"]
    gpu = f"{machine['gpu']} (CuPy {machine.get('cupy')}), " if "gpu" in machine else ""
    print(f"{gpu}{machine['cpu']}, {machine['cores']} cores, {machine.get('threads')} thread(s) per engine, "
          f"numpy {machine['numpy']}, torch {machine.get('torch')}, {document['date']}: `{document['command']}`\n")
    print(markdown_table(document["records"]))
