"""Build the kvbm Python package (pure-Python layer + the kvbm._kvbm extension).

Works offline with Debian's python3-setuptools and python3-dev:
    /usr/bin/python3 -m pip install --no-build-isolation ./python
The extension is compiled against the kvbm C sources of this checkout (../src), or, when
KVBM_STATIC_LIB names a built libkvbm.a (compiled with -fPIC, as the CMake build does),
linked against that archive. KVBM_WERROR=1 adds -Werror.
"""
import glob
import os
import re
import subprocess

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def rel(path):
    return os.path.relpath(path, HERE)


def xxhash_flags():
    try:
        out = subprocess.run(["pkg-config", "--cflags", "--libs", "libxxhash"],
                             check=True, capture_output=True, text=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        out = ["-lxxhash"]
    inc = [f[2:] for f in out if f.startswith("-I")]
    libs = [f[2:] for f in out if f.startswith("-l")]
    libdirs = [f[2:] for f in out if f.startswith("-L")]
    return inc, libs or ["xxhash"], libdirs


if not os.path.isfile(os.path.join(ROOT, "include", "kvbm", "kvbm.h")):
    raise SystemExit("kvbm: build from a kvbm checkout (python/ next to include/ and src/)")


def project_version():
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        m = re.search(r"project\(kvbm\s+VERSION\s+(\d+)\.(\d+)\.(\d+)", f.read())
    return m.groups()


def generate_version_h():
    """kvbm/version.h as CMake's configure_file writes it (cmake/version.h.in)."""
    major, minor, patch = project_version()
    with open(os.path.join(ROOT, "cmake", "version.h.in")) as f:
        text = f.read()
    for k, v in (("PROJECT_VERSION_MAJOR", major), ("PROJECT_VERSION_MINOR", minor),
                 ("PROJECT_VERSION_PATCH", patch), ("PROJECT_VERSION", f"{major}.{minor}.{patch}")):
        text = text.replace(f"@{k}@", v)
    gen = os.path.join(HERE, "build", "gen", "include")
    os.makedirs(os.path.join(gen, "kvbm"), exist_ok=True)
    path = os.path.join(gen, "kvbm", "version.h")
    if not os.path.exists(path) or open(path).read() != text:
        with open(path, "w") as f:
            f.write(text)
    return gen


sources = sorted(rel(p) for p in glob.glob(os.path.join(HERE, "src", "*.c")))
extra_objects = []
static_lib = os.environ.get("KVBM_STATIC_LIB")
if static_lib:
    extra_objects.append(os.path.abspath(static_lib))
else:
    core = glob.glob(os.path.join(ROOT, "src", "**", "*.c"), recursive=True)
    sources += sorted(rel(p) for p in core if os.sep + "ext" + os.sep not in rel(p))

inc, libs, libdirs = xxhash_flags()
cflags = ["-std=c11", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter",
          "-Wno-missing-field-initializers", "-Wno-cast-function-type"]
if os.environ.get("KVBM_WERROR"):
    cflags.append("-Werror")

ext = Extension(
    "kvbm._kvbm",
    sources=sources,
    include_dirs=[os.path.join(ROOT, "include"), generate_version_h(),
                  os.path.join(ROOT, "src")] + inc,
    define_macros=[("KVBM_BUILDING", None), ("KVBM_DEBUG", "0"),
                   ("_POSIX_C_SOURCE", "200809L"), ("_DEFAULT_SOURCE", None)],
    extra_compile_args=cflags,
    extra_objects=extra_objects,
    libraries=libs + ["pthread"],
    library_dirs=libdirs,
)

setup(
    name="kvbm",
    version=".".join(project_version()),
    description="Logical KV-cache block manager (CPython binding of the kvbm C library)",
    packages=["kvbm"],
    package_data={"kvbm": ["py.typed", "*.pyi"]},
    ext_modules=[ext],
    python_requires=">=3.9",
    zip_safe=False,
)
