"""The MUSDB18 7-second sample (144 real tracks x 7 s, STEMS) as the data root "musdb-sample".

It is fetched by musdb's own download code (`musdb.DB(download=True)`) and cached where musdb
caches it (~/MUSDB18/MUSDB18-7), so musdb users and tf_munet share one copy. A first download goes
to a temporary sibling folder that is renamed when musdb has finished, so a failed download
leaves no partial set behind.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

from tf_munet.errors import UserError, one_line

MUSDB_SAMPLE = "musdb-sample"
"""The name that stands for the sample set wherever a MUSDB root is asked for."""
MUSDB_SAMPLE_ROOT = "~/MUSDB18/MUSDB18-7"
"""Where `musdb.DB(download=True)` keeps the sample (musdb's own default)."""


def is_musdb_sample(root: str | os.PathLike | None) -> bool:
    return root is not None and str(root) == MUSDB_SAMPLE


def musdb_sample_root() -> Path:
    """The sample's folder, downloaded by musdb on first use.

    Raises:
        UserError: the download or its extraction failed (nothing is left at the cache folder).
    """
    import musdb

    root = Path(MUSDB_SAMPLE_ROOT).expanduser()
    if (root / "train").is_dir():  # musdb's own test for a finished download
        musdb.DB(download=True, subsets=["train"])  # checks the set; downloads nothing
        return root
    partial = root.parent / f".{root.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        db = musdb.DB(root=str(partial), download=True, subsets=["train", "test"])
        if not db.tracks:
            raise UserError("the downloaded archive holds no tracks")
        if root.is_dir() and not any(root.iterdir()):
            root.rmdir()
        os.replace(partial, root)
    except (OSError, RuntimeError, ValueError, zipfile.BadZipFile, UserError) as err:  # URLError is an OSError
        raise UserError(f"MUSDB18 7-second sample: download to {root} failed ({one_line(err)}); "
                        f"nothing was written (check the internet connection, or pass a local MUSDB root)") from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return root
