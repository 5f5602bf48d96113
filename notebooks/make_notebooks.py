"""Writes the study notebooks (clean, no outputs): python notebooks/make_notebooks.py

One builder per study (make_<study>.py) holds its cells; edit them there, then run this file. The notebooks
hold calls and plots only; anything with a loop or a function belongs in qrbench.

Each notebook carries the kernel metadata JupyterLab would write on opening it (the python3 kernel's display
name, and ipykernel's language_info for this Python): with anything else, JupyterLab marks the notebook
modified as soon as its kernel connects. Regenerate with the Python the notebooks run on (CI's).
"""

from pathlib import Path

import nbformat

HERE = Path(__file__).parent


def kernel_metadata() -> dict:
    """The notebook metadata the python3 kernel of this installation reports (kernelspec, language_info)."""
    from ipykernel.ipkernel import IPythonKernel
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    return {
        "kernelspec": {"name": "python3", "display_name": spec.display_name, "language": spec.language},
        "language_info": dict(IPythonKernel.language_info),
    }


if __name__ == "__main__":
    # This folder is on sys.path when the file runs as a script.
    from make_ab import ab
    from make_baseline import baseline
    from make_bottlenecks import bottlenecks
    from make_explore import explore
    from make_load import load
    from make_scalability import scalability

    builders = (
        ("baseline", baseline),
        ("load", load),
        ("bottlenecks", bottlenecks),
        ("scalability", scalability),
        ("ab", ab),
        ("explore", explore),
    )
    for name, build in builders:
        nb = build()
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"{name}-{i:02d}"  # stable ids: regenerating leaves unchanged cells unchanged in git
        nbformat.write(nb, HERE / f"{name}.ipynb")
        print("wrote", HERE / f"{name}.ipynb")
