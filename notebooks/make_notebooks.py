"""Writes the study notebooks (clean, no outputs): python notebooks/make_notebooks.py

One builder per study (make_<study>.py) holds its cells; edit them there, then run this file. The notebooks
hold calls and plots only; anything with a loop or a function belongs in qrbench.
"""

from pathlib import Path

import nbformat

HERE = Path(__file__).parent

if __name__ == "__main__":
    # This folder is on sys.path when the file runs as a script.
    from make_ab import ab
    from make_baseline import baseline
    from make_bottlenecks import bottlenecks
    from make_load import load
    from make_scalability import scalability

    builders = (
        ("baseline", baseline),
        ("load", load),
        ("bottlenecks", bottlenecks),
        ("scalability", scalability),
        ("ab", ab),
    )
    for name, build in builders:
        nb = build()
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"{name}-{i:02d}"  # stable ids: regenerating leaves unchanged cells unchanged in git
        nbformat.write(nb, HERE / f"{name}.ipynb")
        print("wrote", HERE / f"{name}.ipynb")
