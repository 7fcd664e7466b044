"""The one compiled piece of the project; everything else is declared in pyproject.toml.

``pipeline/dedup/_normalise.c`` turns PNG scanlines and grey pixels into the dedup stage's normalised
picture (see the file's header). ``pip install -e .`` (``make install``) builds it with the machine's C
compiler and the Python headers. Python is built with -fwrapv, which stops the loops vectorising.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("pipeline.dedup._normalise", ["pipeline/dedup/_normalise.c"],
                             extra_compile_args=["-O3", "-fno-wrapv"])])
