"""Ships the samples inside the wheel as ``kgfm/_samples/{configs,graphs,quickstart.ipynb}``.

They live at the repository root (``configs/``, ``graphs/``, ``quickstart.ipynb``) so the README's paths work
in a checkout; :mod:`kgfm.samples` finds them in either place. Everything else is declared in pyproject.toml.
"""

from pathlib import Path
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

SAMPLES = {"configs": ("*.yaml", "*.tsv"), "graphs": ("*.txt", "*.ttl", "*.md", "bad/*")}
FILES = ("quickstart.ipynb",)


class BuildWithSamples(build_py):
    def run(self) -> None:
        super().run()
        root = Path(__file__).resolve().parent
        for folder, patterns in SAMPLES.items():
            for pattern in patterns:
                found = [src for src in sorted((root / folder).glob(pattern)) if src.is_file()]
                if not found:  # e.g. an sdist made without MANIFEST.in: fail here, not at the user's `kgfm init`
                    raise SystemExit(f"setup.py: no sample files {folder}/{pattern} under {root} (see MANIFEST.in)")
                for src in found:
                    dest = Path(self.build_lib) / "kgfm" / "_samples" / folder / src.relative_to(root / folder)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, dest)
        for name in FILES:
            if not (root / name).is_file():
                raise SystemExit(f"setup.py: no sample file {name} under {root} (see MANIFEST.in)")
            dest = Path(self.build_lib) / "kgfm" / "_samples" / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, dest)


setup(cmdclass={"build_py": BuildWithSamples})
