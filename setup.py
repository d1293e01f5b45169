"""tf_munet: multi-source music separation U-Nets (M-U-Net, dedicated U-Nets, C-U-Net) in Keras 3."""

import os
import runpy

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))
EXTRAS = runpy.run_path(os.path.join(HERE, "tf_munet", "extras.py"))  # the optional parts, listed once
RENDER = list(EXTRAS["EXTRAS"]["render"])

setup(
    name="tf_munet",
    version="0.1.0",
    description="Multi-channel U-Net (M-U-Net) music source separation in TensorFlow/Keras 3",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["tf_munet", "tf_munet.*", "tf_munet_core"]),
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.21",
        "keras>=3.10",
        "tensorboard",
        "numpy",
        "musdb>=0.4",
        "museval>=0.4",
        "mir_eval",
        "soundfile>=0.12",  # libsndfile 1.1+: MP3 stems
        "soxr",
        "ai-edge-litert",
        "tqdm",
        "pyyaml",
        "norbert",
        "scipy",
        "ducc0",
        "matplotlib",
    ],
    extras_require={
        # rendered data sets: pyworld needs a C++ compiler; apt: fluidsynth fluid-soundfont-gm espeak-ng
        "render": RENDER,
        "dev": [*RENDER, *EXTRAS["TEST_TOOLS"]],  # the tests and the linter
        "web": list(EXTRAS["EXTRAS"]["web"]),  # python -m tf_munet.web separate
        "tfio": ["tensorflow-io==0.37.1"],
        "notebooks": ["jupyterlab", "ipykernel", *RENDER],  # they render their data set
        "bench": ["fast-bss-eval"],  # benchmarks/bench_bss_eval.py
    },
    entry_points={
        "console_scripts": [
            "tf-munet=tf_munet.cli:main",  # tf-munet COMMAND: every tool below and more
            "tf-munet-train=tf_munet.cli.train:main",
            "tf-munet-separate=tf_munet.cli.separate:main",
            "tf-munet-evaluate=tf_munet.cli.evaluate:main",
            "tf-munet-export=tf_munet.cli.export:main",
            "tf-munet-edge=tf_munet_core.edge:main",
        ]
    },
)
