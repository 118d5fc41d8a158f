"""What pyproject.toml cannot express: `plugins/` ships as `sentineld_plugins`, and the optional
mypyc build of a few hot inner modules (decision 0022).

The modules named in `sentineld/compiled.py` (`COMPILED`) are compiled by mypyc from their own
sources, with the type hints they have, when a C compiler and Python's headers are available.
Without them the install goes on as pure Python, with one warning; the result behaves the same,
only slower. Environment variables:

- ``SENTINELD_NO_EXTENSIONS=1``: do not try (pure Python; at run time it also makes an installed
  compiled build run from source);
- ``SENTINELD_REQUIRE_EXTENSIONS=1``: a failed build is an error instead of a fallback (CI).

In an editable install the compiled files sit beside their sources; after editing one, run
``pip install -e .`` again (or ``python setup.py build_ext --inplace`` where mypy is installed).
Until then the edited sources run, with a warning (`sentineld.compiled`).
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, ExecError, PlatformError

HERE = Path(__file__).resolve().parent
#: Top-level package → its folder in the repository (as in pyproject.toml's package-dir).
PACKAGE_DIRS = {"sentineld": "sentineld", "sentineld_plugins": "plugins"}
_compiled = runpy.run_path(str(HERE / "sentineld" / "compiled.py"))
COMPILED: dict[str, tuple[str, ...]] = _compiled["COMPILED"]
MANIFEST: str = _compiled["MANIFEST"]
source_digest = _compiled["source_digest"]

#: Where mypyc reads the sources (a folder per top-level package, linked to the repository's:
#: mypyc names a module after its path, and `plugins/` is `sentineld_plugins`) and writes C.
STAGING = Path("build") / "mypyc-src"
C_OUTPUT = Path("build") / "mypyc"
#: A group's native library is the module ``<package>.<GROUP>__mypyc``.
GROUP = "compiled"


def flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


def warn(message: str) -> None:
    print(f"WARNING: sentineld: {message}", file=sys.stderr, flush=True)


def package_folder(package: str) -> Path:
    """A package's folder in the repository."""
    top, *rest = package.split(".")
    return Path(PACKAGE_DIRS[top], *rest)


def source_path(package: str, module: str) -> Path:
    return package_folder(package) / (module + ".py")


def mypyc_extensions() -> list[Extension]:
    """mypyc's C sources and Extensions for every compiled group (raises if mypyc cannot)."""
    from mypyc.build import mypycify

    STAGING.mkdir(parents=True, exist_ok=True)
    for top, folder in PACKAGE_DIRS.items():
        link = STAGING / top
        if link.is_symlink() and link.readlink() != HERE / folder:
            link.unlink()  # a build folder carried over from another checkout
        if not link.is_symlink():
            link.symlink_to(HERE / folder, target_is_directory=True)
    extensions: list[Extension] = []
    for package, modules in COMPILED.items():
        top = package.partition(".")[0]
        paths = [str(STAGING / top / source_path(package, m).relative_to(PACKAGE_DIRS[top])) for m in modules]
        extensions += mypycify(
            ["--ignore-missing-imports", "--follow-imports=silent", "--cache-dir", str(C_OUTPUT / "cache"), *paths],
            target_dir=str(C_OUTPUT),
            group_name=f"{package}.{GROUP}",
        )
    return extensions


class OptionalBuildExt(build_ext):
    """Builds the compiled modules if it can, and otherwise leaves a pure-Python install.

    setup() is given placeholder extensions, one per module and one per group's native
    library, so that a build runs this command and setuptools prepares their file names.
    mypyc runs only here, when the extensions are built (not in the metadata steps, which
    also look at them), and its C sources and flags are put into the placeholders.
    """

    def run(self) -> None:
        if not self._generate_c():
            self._remove_outputs()  # an earlier build beside the sources would not match them
            self.extensions = []
            return
        inplace = self.inplace
        try:
            super().run()
        except (CCompilerError, ExecError, PlatformError, OSError) as error:
            self.inplace = inplace
            self._remove_outputs()
            self.extensions = []
            self._fall_back(f"no C compiler or Python headers to build the compiled modules ({error})")
            return
        self._write_manifests()

    def _generate_c(self) -> bool:
        """Fill the placeholders with mypyc's C; False if there will be no compiled build."""
        if flag("SENTINELD_NO_EXTENSIONS"):
            warn("SENTINELD_NO_EXTENSIONS is set: installing pure Python, without compiled modules")
            return False
        try:
            generated = {ext.name: ext for ext in mypyc_extensions()}
        except (Exception, SystemExit) as error:  # mypyc prints type errors, then exits
            detail = "see its errors above" if isinstance(error, SystemExit) else repr(error)
            self._fall_back(f"mypyc could not compile the modules ({detail})")
            return False
        placeholders = {ext.name: ext for ext in self.extensions}
        if generated.keys() != placeholders.keys():
            self._fall_back(f"mypyc made {sorted(generated)}, setup.py expected {sorted(placeholders)}")
            return False
        for name, ext in generated.items():
            for key, value in vars(ext).items():
                if not key.startswith("_"):  # setuptools' own, set when it prepared the placeholder
                    setattr(placeholders[name], key, value)
        return True

    def _fall_back(self, reason: str) -> None:
        if flag("SENTINELD_REQUIRE_EXTENSIONS"):
            raise SystemExit(f"sentineld: {reason}, and SENTINELD_REQUIRE_EXTENSIONS is set")
        warn(f"{reason}: installing pure Python (same behaviour, slower sentiment scoring)")

    def _package_dirs(self, package: str) -> list[Path]:
        """Where a compiled group's files are: the build folder, and the sources if in place."""
        built = Path(self.build_lib, *package.split("."))
        return [built, package_folder(package)] if self.inplace else [built]

    def _write_manifests(self) -> None:
        for package, modules in COMPILED.items():
            digests = {m: source_digest(str(source_path(package, m))) for m in modules}
            for folder in self._package_dirs(package):
                if folder.is_dir():
                    (folder / MANIFEST).write_text(json.dumps(digests, indent=1) + "\n", encoding="utf-8")

    def _remove_outputs(self) -> None:
        """A failed build leaves no compiled file (an old one would not match the sources)."""
        for folder in (folder for package in COMPILED for folder in self._package_dirs(package)):
            if folder.is_dir():
                for path in folder.iterdir():
                    if path.name == MANIFEST or (path.suffix in (".so", ".pyd") and path.is_file()):
                        path.unlink()


core = find_packages(include=["sentineld", "sentineld.*"])
builtins = ["sentineld_plugins" + name.removeprefix("plugins") for name in find_packages(include=["plugins", "plugins.*"])]
placeholders = [
    Extension(name, sources=[])
    for package, modules in COMPILED.items()
    for name in (*(f"{package}.{module}" for module in modules), f"{package}.{GROUP}__mypyc")
]

setup(packages=core + builtins, ext_modules=placeholders, cmdclass={"build_ext": OptionalBuildExt})
