"""tf_munet: multi-source music separation U-Nets (M-U-Net, dedicated U-Nets, C-U-Net) in Keras 3."""

from setuptools import find_packages, setup

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
        "soundfile",
        "soxr",
        "ai-edge-litert",
        "tqdm",
        "pyyaml",
        "norbert",
        "scipy",
        "ducc0",
        "matplotlib",
        "pyfluidsynth",
        "pretty_midi",
        "pyworld",
    ],
    extras_require={
        "dev": ["pytest", "pytest-xdist", "nbclient", "nbformat", "ipykernel", "ruff", "playwright"],
        "web": ["playwright"],  # python -m tf_munet.web separate: drives the system Chromium
        "tfio": ["tensorflow-io==0.37.1"],
        "notebooks": ["jupyterlab", "ipykernel"],
        "bench": ["fast-bss-eval"],  # benchmarks/bench_bss_eval.py
    },
    entry_points={
        "console_scripts": [
            "tf-munet-train=tf_munet.train:main",
            "tf-munet-separate=tf_munet.separate:main",
            "tf-munet-evaluate=tf_munet.evaluate:main",
            "tf-munet-export=tf_munet.export:main",
            "tf-munet-edge=tf_munet_core.edge:main",
        ]
    },
)
