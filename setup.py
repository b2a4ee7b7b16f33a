"""Ships the sample configs, graphs and notebook inside the wheel as ``kgfm/_samples/{configs,graphs,quickstart.ipynb}``.

They live at the repository root (``configs/``, ``graphs/``, ``quickstart.ipynb``) so the README's paths work in a checkout;
:mod:`kgfm.samples` finds them in either place. Everything else is declared in pyproject.toml.
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
                for src in sorted((root / folder).glob(pattern)):
                    if src.is_file():
                        dest = Path(self.build_lib) / "kgfm" / "_samples" / folder / src.relative_to(root / folder)
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(src, dest)
        for name in FILES:
            dest = Path(self.build_lib) / "kgfm" / "_samples" / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, dest)


setup(cmdclass={"build_py": BuildWithSamples})
