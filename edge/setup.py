"""tf-munet-edge: the numpy-only inference core and the LiteRT edge runner, without TensorFlow.

    pip install ./edge     # from the repository root; then: tf-munet-edge EXPORT_DIR song.wav -o stems/

pip builds in this folder, so the package is taken from the repository root beside it.
"""

from setuptools import setup

setup(
    name="tf-munet-edge",
    version="0.1.0",
    description="tf_munet's inference core and TF-Lite edge runner (numpy + LiteRT, no TensorFlow)",
    packages=["tf_munet_core"],
    package_dir={"tf_munet_core": "../tf_munet_core"},
    python_requires=">=3.10",
    install_requires=["numpy", "ducc0", "soundfile>=0.12", "soxr", "ai-edge-litert"],
    entry_points={"console_scripts": ["tf-munet-edge=tf_munet_core.edge:main"]},
)
